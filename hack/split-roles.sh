#!/usr/bin/env bash
# Splits the file controller-gen writes with the roles of every +kubebuilder:rbac marker
# into one file per role, by the role's name:
#
#   hack/split-roles.sh GENERATED NAME=FILE...
#
# `make manifests` uses it to keep the rules of rollout restarts (roleName=rollout-restart-role
# in internal/controller/step_restart.go) out of config/rbac/role.yaml, since they are
# granted only where restarts are turned on. A role that no NAME=FILE names, or a NAME that
# names no role, is an error: a new roleName in a marker cannot go unnoticed.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 GENERATED NAME=FILE..." >&2
  exit 2
fi
in=$1
shift
declare -A dest
for arg in "$@"; do
  dest[${arg%%=*}]=${arg#*=}
done

parts=$(mktemp -d)
trap 'rm -rf "$parts"' EXIT
# One file per YAML document; controller-gen starts each with a line "---".
awk -v dir="$parts" '/^---$/ { n++ } { print > (dir "/" sprintf("%03d", n) ".yaml") }' "$in"

declare -A seen
for part in "$parts"/*.yaml; do
  name=$(sed -n 's/^  name: //p' "$part" | head -n 1)
  if [ -z "$name" ] || [ -z "${dest[$name]+x}" ]; then
    echo "$0: $in holds a role \"$name\" that no NAME=FILE names" >&2
    exit 1
  fi
  cp "$part" "${dest[$name]}"
  seen[$name]=1
done
for name in "${!dest[@]}"; do
  if [ -z "${seen[$name]+x}" ]; then
    echo "$0: $in holds no role \"$name\"" >&2
    exit 1
  fi
done
