-- wrk script for `bench http --client wrk`: every request allocates for a new pod (unique per wrk process, thread
-- and request); every answer's status and body go to a per-thread file so the bench can check them against the log.
-- Env: TOKEN (bearer), POD_PREFIX (unique per wrk process), OUT (file prefix for answers).
local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  out = io.open(os.getenv("OUT") .. "-" .. tid, "w")
  out:setvbuf("line") -- wrk does not close thread states at exit: a buffered tail would be lost
  prefix = os.getenv("POD_PREFIX") .. "t" .. tid .. "-"
  auth = "Bearer " .. os.getenv("TOKEN")
end

function request()
  local pod = prefix .. counter
  counter = counter + 1
  local body = '{"endpoint":{"namespace":"bench","name":"' .. pod .. '","uid":"uid-' .. pod .. '","containerID":"ctr-' .. pod
    .. '","owner":{"kind":"ReplicaSet","name":"bench-rs"}},"pools":{"ipv4":["bench"]}}'
  return wrk.format("POST", "/v1/allocations", { ["content-type"] = "application/json", ["authorization"] = auth }, body)
end

function response(status, headers, body)
  out:write(status, " ", body, "\n")
end
