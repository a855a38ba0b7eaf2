-- Argo CD health check for tfserving.dev/ServedModel.
-- Install: argocd-cm key `resource.customizations.health.tfserving.dev_ServedModel` (see README).
hs = {}
local function condition(obj, kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

if obj.status == nil or obj.status.observedGeneration == nil
    or obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the latest spec"
  return hs
end

local degraded = condition(obj, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = degraded.message
  return hs
end

local ready = condition(obj, "Ready")
if ready ~= nil and ready.reason == "Unschedulable" then
  hs.status = "Degraded"
  hs.message = ready.message
  return hs
end

local promoting = condition(obj, "Promoting")
if promoting ~= nil and promoting.status == "True" then
  hs.status = "Progressing"
  hs.message = promoting.message
  return hs
end

local exported = condition(obj, "Exported")
if exported ~= nil and exported.status == "False" then
  hs.status = "Progressing"
  hs.message = exported.message
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end

hs.status = "Progressing"
if ready ~= nil then
  hs.message = ready.message
else
  hs.message = "Waiting for serving replicas"
end
return hs
