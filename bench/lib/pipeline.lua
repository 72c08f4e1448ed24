-- wrk script for the `pipelined` scenario, as TechEmpower's plaintext test:
-- every write carries `depth` GET requests back to back (default 16; pass
-- another depth after `--` on wrk's command line). wrk counts each response.
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  req = table.concat(r)
end

request = function()
  return req
end
