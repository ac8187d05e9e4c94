-- wrk script: spreads requests over HOSTS (default 10 000) hosts tNNNNN.bench.localhost,
-- a different Host on every request (a fixed permutation, prebuilt so Lua costs little).
local reqs = {}
local i = 0
init = function(args)
  local n = tonumber(os.getenv("HOSTS") or "10000")
  for k = 0, n - 1 do
    reqs[k + 1] = wrk.format("GET", "/", { Host = string.format("t%05d.bench.localhost", (k * 7919) % n) })
  end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
