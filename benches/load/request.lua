-- wrk: one request built once and sent on every connection, for the request shapes wrk's own
-- options cannot make (a body, chunked framing, HTTP/1.0). Set by run.sh through the
-- environment: METHOD, BODY (bytes), CHUNKED ("1": one chunk of BODY bytes), HTTP10 ("1"),
-- REQ_HOST, REQ_PATH. wrk's own Content-Length is not used: the head is written here.
local raw

function init(args)
  local method = os.getenv("METHOD") or "GET"
  local size = tonumber(os.getenv("BODY") or "0")
  local version = os.getenv("HTTP10") == "1" and "HTTP/1.0" or "HTTP/1.1"
  local head = method .. " " .. (os.getenv("REQ_PATH") or "/") .. " " .. version .. "\r\n"
    .. "Host: " .. (os.getenv("REQ_HOST") or "localhost") .. "\r\n"
  local body = string.rep("x", size)
  if size > 0 and os.getenv("CHUNKED") == "1" then
    raw = head .. "Transfer-Encoding: chunked\r\n\r\n" .. string.format("%x", size) .. "\r\n" .. body .. "\r\n0\r\n\r\n"
  elseif size > 0 then
    raw = head .. "Content-Length: " .. size .. "\r\n\r\n" .. body
  else
    raw = head .. "\r\n"
  end
end

function request()
  return raw
end
