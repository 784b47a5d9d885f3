package redislimit

import "github.com/redis/go-redis/v9"

// The Redis side of a Limiter: two short Lua scripts, each one atomic step on the keys
// of one destination. KEYS[1] is a hash holding the shared state (all times are
// microseconds of the Redis server's clock, so that machines whose clocks disagree
// still agree on it):
//
//	tat     GCRA theoretical arrival time of the next permit
//	hold    end of the shared Retry-After cooldown
//	rate    the shared (adaptive) rate, requests/s
//	base, step, first, lastCut, reopen, sburst, quiet, acc
//	        the adaptive controller's state: ratelimit's aimd, ported line by line
//
// KEYS[2] is a sorted set of the limiters seen recently (member: a random id; score:
// when last seen), for the share a limiter falls back to when Redis is lost.
//
// Scripts take their "now" from ARGV[1] when it is not 0 (tests drive the clock), else
// from Redis TIME.

// permitScript reports pending acceptances (the controller's additive climb, boosted as
// ratelimit's aimd.boost does), reserves
// a permit if ARGV[7] is 1, and answers {wait, hold, rate, participants}: the wait until
// the permit's slot and the hold still in force, in microseconds, the shared rate, and
// the number of limiters seen in the last 15 s (-1 unless a heartbeat was asked for).
//
// The reservation is GCRA with a queue: the slot is max(now, tat - tau), tau being
// (burst-1) intervals, and tat moves one interval on, so waiters get distinct slots one
// interval apart and never race for one. A hold moves tat to its end (plus tau): the
// first permit after a hold comes at its end, the next ones paced, nothing saved up.
// A missing state opens with one token, or full less ARGV[10] tokens for a known limit
// (ARGV[4]); ARGV[6] = 1 (a limiter rejoining after Redis was lost) also drains any
// saved-up burst, so a rejoin never bursts.
//
// ARGV: now, ceil (0 = no bucket), burst, known, adaptive, accepted, take, pid,
// heartbeat, margin, rejoin, idle ttl (ms)
var permitScript = redis.NewScript(`
redis.replicate_commands() -- TIME before writes: needed before Redis 5, a no-op since
local function num(x) return string.format('%.17g', x) end
local now = tonumber(ARGV[1])
if now == 0 then local t = redis.call('TIME'); now = tonumber(t[1]) * 1e6 + tonumber(t[2]) end
local ceil, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
local known, adaptive = ARGV[4] == '1', ARGV[5] == '1'
local k, take = tonumber(ARGV[6]), ARGV[7] == '1'
local margin, rejoin = tonumber(ARGV[10]), ARGV[11] == '1'
local s = redis.call('HMGET', KEYS[1], 'tat', 'hold', 'rate', 'base', 'step', 'first', 'acc', 'lastCut', 'reopen', 'sburst')
local tat, hold = tonumber(s[1]), tonumber(s[2]) or 0
local rate, base, step = tonumber(s[3]) or ceil, tonumber(s[4]) or ceil, tonumber(s[5]) or 0.03
local first, acc = tonumber(s[6]), tonumber(s[7]) or 0
local lastCut, reopen, sburst = tonumber(s[8]), tonumber(s[9]) or 0, tonumber(s[10]) or 0
local out = {}
if adaptive and k > 0 and ceil > 0 then
  if not first then first = now; table.insert(out, 'first'); table.insert(out, num(first)) end
  acc = acc + k
  local boost = 1
  if lastCut and now > reopen and not (sburst > 0 and sburst < base / 2) and step ~= 0.15 then
    local d = 2e6
    if sburst <= 0 then d = 1e6 end
    boost = math.min(32, 2 ^ math.floor((now - reopen) / d))
  end
  for i = 1, k do
    if rate < ceil then rate = math.min(ceil, rate + boost * step * base / rate) end
  end
  table.insert(out, 'acc'); table.insert(out, num(acc))
end
if not adaptive then rate = ceil end
if ceil > 0 then
  if adaptive then table.insert(out, 'rate'); table.insert(out, num(rate)) end
  local r = math.min(rate, ceil)
  local b = burst
  if adaptive and not (known and r >= ceil) then b = math.max(1, math.min(burst, math.floor(r * 0.1))) end
  local T = 1e6 / r
  local tau = (b - 1) * T
  if not tat then
    if known and not rejoin then tat = now + math.min(margin, b - 1) * T else tat = now + tau end
  end
  if rejoin then tat = math.max(tat, now + tau) end
  if hold > now then tat = math.max(tat, hold + tau) end
  tat = math.max(tat, now)
  local wait = 0
  if take then
    wait = math.max(0, tat - tau - now)
    tat = tat + T
  end
  table.insert(out, 'tat'); table.insert(out, num(tat))
  out.wait = wait
end
if #out > 0 then redis.call('HSET', KEYS[1], unpack(out)) end
redis.call('PEXPIRE', KEYS[1], ARGV[12])
local n = -1
if ARGV[9] == '1' then
  redis.call('ZADD', KEYS[2], now, ARGV[8])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 15e6)
  redis.call('PEXPIRE', KEYS[2], ARGV[12])
  n = redis.call('ZCARD', KEYS[2])
end
return {num(out.wait or 0), num(math.max(0, hold - now)), num(rate), n}
`)

// throttleScript reports a refusal: a positive Retry-After (ARGV[4], µs) holds every
// limiter of the destination until now + it; if ARGV[6] is 1 (the refusal is congestion,
// see ratelimit.Refusals) the adaptive controller cuts the rate, as ratelimit's aimd
// does: the first refusal of an episode only, by what was measured since the last cut.
// It answers {rate, hold}.
//
// ARGV: now, ceil, floor, retry after, adaptive, congestion, idle ttl (ms)
var throttleScript = redis.NewScript(`
redis.replicate_commands()
local function num(x) return string.format('%.17g', x) end
local now = tonumber(ARGV[1])
if now == 0 then local t = redis.call('TIME'); now = tonumber(t[1]) * 1e6 + tonumber(t[2]) end
local ceil, floor, ra = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local f = {'hold', 'rate', 'base', 'step', 'first', 'lastCut', 'reopen', 'sburst', 'quiet', 'acc'}
local v = redis.call('HMGET', KEYS[1], unpack(f))
local st = {}
for i, name in ipairs(f) do st[name] = tonumber(v[i]) end
local hold = st.hold or 0
if ra > 0 and now + ra > hold then hold = now + ra; redis.call('HSET', KEYS[1], 'hold', num(hold)) end
local rate = st.rate or ceil
if ARGV[5] == '1' and ARGV[6] == '1' and ceil > 0 then
  floor = math.min(floor, ceil)
  if st.quiet and now < st.quiet then
    redis.call('HSET', KEYS[1], 'reopen', num(math.max(st.reopen or 0, now + ra)))
  else
    local acc, sburst = st.acc or 0, st.sburst or 0
    local nxt, step = rate * 0.5, 0.15
    if not st.lastCut and not st.first then
      nxt = rate * 0.1
      step = 0.03
    elseif not st.lastCut then
      local secs = (now - st.first) / 1e6 + 1
      nxt = math.min(math.max(acc / secs * 0.99, rate * 0.1), rate * 0.97)
      sburst = acc
      step = 0.03
    elseif st.lastCut and acc >= 4 then
      local est = 0
      local whole = (now - st.lastCut) / 1e6
      if whole > 0 then
        local lo = acc / whole
        local active = (now - st.reopen) / 1e6
        if active <= 0 or sburst <= 0 then est = lo
        else
          local refill = lo * (whole - active)
          local x = sburst / refill
          est = (acc - math.min(refill, sburst * (1 + 16 * x ^ 4))) / active
        end
      end
      if est > 0 then nxt = math.min(est * 0.99, rate * 0.97); step = 0.03 end
    end
    rate = math.max(floor, math.min(ceil, nxt))
    if step == 0.03 and sburst > 0 then step = 0.03 * math.min(1, sburst / rate) end
    redis.call('HSET', KEYS[1], 'rate', num(rate), 'base', num(rate), 'step', num(step),
      'lastCut', num(now), 'reopen', num(now + ra), 'acc', 0, 'sburst', num(sburst),
      'quiet', num(now + math.max(ra, 250000)))
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return {num(rate), num(math.max(0, hold - now))}
`)
