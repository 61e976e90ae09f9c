-- single.lua - wrk script for the single-message phase of bench/ingest.
--
--   wrk -t2 -c64 -d15s -s bench/single.lua http://127.0.0.1:PORT/v1/track -- AUTH RUNID
--
-- AUTH is the base64 of "writekey:" for Journey, or "-" to send no
-- Authorization header (nginx). RUNID prefixes every messageId.
--
-- Each request is one browser-tracker-like track message (~590 bytes, the
-- same shape as loadgen.c's) with a unique messageId: Journey deduplicates on
-- it, so a constant body would be acknowledged but not stored after the first.
-- The whole request (head and body) is one string.format template with
-- fixed-width numbers, so Content-Length never changes and request() costs one
-- format call: wrk's Lua must stay far cheaper than the server it measures.
--
-- done() prints one line "JSON {...}" that bench/ingest parses.

local thread_count = 0

function setup(thread)
   thread:set("tid", thread_count)
   thread_count = thread_count + 1
end

local template
local seq = 0

function init(args)
   local auth = args[1] or "-"
   local run = args[2] or "wrk"
   local t = string.format("%02d", tid or 0)
   local now = os.date("!%Y-%m-%dT%H:%M:%S")
   local body = '{"type":"track","event":"Loan Calculator Used","anonymousId":"anon-' .. t .. '%08d",'
      .. '"messageId":"' .. run .. '-' .. t .. '-%010d-000",'
      .. '"originalTimestamp":"' .. now .. '.000Z","sentAt":"' .. now .. '.180Z",'
      .. '"properties":{"amount":5000,"term_months":36,"variant":"b"},'
      .. '"context":{"page":{"path":"/loans/personal","url":"https://bank.example/loans/personal",'
      .. '"title":"Personal loans | Example Bank","referrer":"https://www.google.com/"},'
      .. '"userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) '
      .. 'Chrome/124.0.0.0 Safari/537.36","sessionId":"s-' .. t .. '%08d","locale":"en-US"}}'
   -- Each %08d / %010d placeholder is 4 / 5 characters and becomes 8 / 10.
   local len = #body + 2 * 4 + 5
   local head = "POST " .. wrk.path .. " HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port .. "\r\n"
   if auth ~= "-" then
      head = head .. "Authorization: Basic " .. auth .. "\r\n"
   end
   head = head .. "User-Agent: journey-bench-wrk/1\r\nContent-Type: application/json\r\n"
      .. "Content-Length: " .. len .. "\r\n\r\n"
   template = head .. body
end

function request()
   seq = seq + 1
   local visitor = math.floor(seq / 8) -- eight consecutive events per visitor
   return string.format(template, visitor, seq, visitor)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,'
         .. '"write":%d,"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,'
         .. '"max":%d,"mean":%.1f}}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
      e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
