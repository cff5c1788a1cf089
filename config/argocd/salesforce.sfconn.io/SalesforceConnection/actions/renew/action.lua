-- Asks the operator to renew the token at once: it logs in when the annotation
-- reconcile.fluxcd.io/requestedAt has a value not yet echoed in
-- status.lastHandledReconcileAt.
local os = require("os")
if type(obj.metadata) ~= "table" then
  obj.metadata = {}
end
if type(obj.metadata.annotations) ~= "table" then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["reconcile.fluxcd.io/requestedAt"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
