-- Appends one webhook delivery attempt and trims the attempts older than the retention, both by
-- the server's clock, so that instances with skewed clocks keep one order and one retention.
-- KEYS[1]: the stream. ARGV[1]: the attempt as JSON; ARGV[2]: the retention in milliseconds.
-- Returns the new entry's id.
local now = redis.call('TIME')
local millis = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local oldest = string.format('%d', millis - tonumber(ARGV[2]))
return redis.call('XADD', KEYS[1], 'MINID', oldest, '*', 'a', ARGV[1])
