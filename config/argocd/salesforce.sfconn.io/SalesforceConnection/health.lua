-- Argo CD health check for SalesforceConnection and ClusterSalesforceConnection
-- (salesforce.sfconn.io/v1alpha1), whose statuses have the same shape.
-- It uses only what Argo CD gives a script from argocd-cm: the base and table libraries.
local function find(conditions, conditionType)
  if type(conditions) ~= "table" then
    return nil
  end
  for _, c in ipairs(conditions) do
    if type(c) == "table" and c.type == conditionType then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

-- "Reason: message", or whichever of the two is set.
local function describe(c)
  local reason = ""
  local message = ""
  if type(c.reason) == "string" then
    reason = c.reason
  end
  if type(c.message) == "string" then
    message = c.message
  end
  if reason == "" then
    return message
  end
  if message == "" then
    return reason
  end
  return reason .. ": " .. message
end

local function health(status, message)
  return { status = status, message = message }
end

local function check()
  local kind = "SalesforceConnection"
  if type(obj.kind) == "string" and obj.kind ~= "" then
    kind = obj.kind
  end
  local meta = obj.metadata
  if type(meta) ~= "table" then
    meta = {}
  end
  if meta.deletionTimestamp ~= nil then
    return health("Progressing", "The " .. kind .. " is being deleted")
  end

  local status = obj.status
  if type(status) ~= "table" then
    return health("Progressing", "Waiting for the operator to reconcile the " .. kind)
  end
  -- The CRD defaults status.observedGeneration to 0: the operator has not seen it yet.
  local observed = status.observedGeneration
  if observed == nil or observed == 0 then
    return health("Progressing", "Waiting for the operator to reconcile the " .. kind)
  end
  if meta.generation ~= nil and observed ~= meta.generation then
    return health("Progressing", "Waiting for the operator to reconcile generation " .. tostring(meta.generation)
      .. " (the status describes generation " .. tostring(observed) .. ")")
  end

  local ready = find(status.conditions, "Ready")
  local reconciling = find(status.conditions, "Reconciling")
  local stalled = find(status.conditions, "Stalled")
  local expiring = find(status.conditions, "Expiring")
  local revoked = find(status.conditions, "Revoked")
  local approvalLimit = find(status.conditions, "ApprovalLimit")
  local suspended = find(status.conditions, "Suspended")

  -- spec.suspend: the operator does nothing on purpose, like a suspended Job or CronJob.
  -- Ready still says whether the token in the Secret works.
  if isTrue(suspended) then
    local message = describe(suspended)
    if ready ~= nil then
      message = message .. ". Ready " .. tostring(ready.status) .. ", " .. describe(ready)
    end
    return health("Suspended", message)
  end

  -- Progress needs a person: bad spec or credentials, revoked, over the approval limit.
  if isTrue(stalled) then
    return health("Degraded", describe(stalled))
  end
  if isTrue(revoked) then
    return health("Degraded", describe(revoked))
  end
  -- The token in the Secret has expired: workloads get 401 until a login succeeds.
  if not isTrue(ready) then
    if ready ~= nil and ready.reason == "Expired" then
      return health("Degraded", describe(ready))
    end
    if isTrue(expiring) and expiring.reason == "Expired" then
      return health("Degraded", describe(expiring))
    end
  end

  -- Renewal is failing, but the token in the Secret still works.
  if isTrue(ready) and isTrue(expiring) then
    return health("Healthy", "Renewal is failing; the token is still valid. " .. describe(expiring))
  end
  -- Obtaining a token: a first login, a login after a spec change or a requested
  -- renewal, a device login waiting for approval, a retry after a transient failure.
  if isTrue(reconciling) then
    local message = describe(reconciling)
    if type(reconciling.message) == "string" and reconciling.message ~= "" then
      message = reconciling.message
    end
    return health("Progressing", message)
  end
  if isTrue(ready) then
    local message = describe(ready)
    if type(ready.message) == "string" and ready.message ~= "" then
      message = ready.message
    end
    if isTrue(approvalLimit) then
      message = message .. ". " .. describe(approvalLimit)
    end
    return health("Healthy", message)
  end
  if ready ~= nil then
    return health("Progressing", describe(ready))
  end
  return health("Progressing", "Waiting for the Ready condition")
end

return check()
