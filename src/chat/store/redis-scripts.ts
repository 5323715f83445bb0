/**
 * The Lua scripts of the Redis store. Each runs atomically in Redis, touches
 * only the keys of one room (all with the room's hash tag, so a Redis Cluster
 * keeps them in one slot), and announces what it changed on the room's
 * sharded channel (SPUBLISH, which a script may call on a channel of its own
 * slot): announcements leave in the order the changes were made.
 *
 * Every room script takes the same six keys:
 *   KEYS[1] meta   hash: lastSeq, floor (lowest seq kept), createdAt,
 *                  lastActivity, emptiedAt ('' while occupied), epoch,
 *                  seatVersion, seatOrd
 *   KEYS[2] log    hash: seq -> entry body (JSON without the seq)
 *   KEYS[3] ids    hash: client message id -> seq
 *   KEYS[4] seats  hash: seat id -> seat (JSON)
 *   KEYS[5] nicks  hash: nickname key -> seat id
 *   KEYS[6] bus    the room's channel
 *
 * Messages on the bus (JSON):
 *   {"e":[[seq, body], ...]}          entries appended
 *   {"s":version,"c":change}          a seat change
 *   {"g":data}                        a signal between nodes
 */

const PRELUDE = `
local META, LOG, IDS, SEATS, NICKS, BUS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local published = {}

local function ensure_room(ts, epoch, emptied)
  if redis.call('EXISTS', META) == 1 then return 0 end
  redis.call('HSET', META, 'lastSeq', 0, 'floor', 1, 'createdAt', ts, 'lastActivity', ts,
    'emptiedAt', emptied, 'epoch', epoch, 'seatVersion', 0, 'seatOrd', 0)
  return 1
end

-- Appends one entry; a client id already stored returns the earlier entry.
local function append(ts, body, cid)
  if cid ~= '' then
    local prev = redis.call('HGET', IDS, cid)
    if prev then return tonumber(prev), (redis.call('HGET', LOG, prev) or body), 1 end
  end
  local seq = redis.call('HINCRBY', META, 'lastSeq', 1)
  redis.call('HSET', LOG, seq, body)
  if cid ~= '' then redis.call('HSET', IDS, cid, seq) end
  redis.call('HSET', META, 'lastActivity', ts)
  published[#published + 1] = '[' .. seq .. ',' .. body .. ']'
  return seq, body, 0
end

local function notice(ts, kind, nick, text, trip)
  local body = { t = tonumber(ts), k = kind, n = nick, x = text }
  if trip ~= nil and trip ~= cjson.null and trip ~= '' then body.p = trip end
  return cjson.encode(body)
end

-- Keeps at most max entries (in batches of max/8, so the cost is spread over appends).
local function trim(max)
  if max <= 0 then return end
  local last = tonumber(redis.call('HGET', META, 'lastSeq'))
  local floor = tonumber(redis.call('HGET', META, 'floor') or '1')
  if last - floor + 1 <= max + math.floor(max / 8) then return end
  local new_floor = last - max + 1
  for s = floor, new_floor - 1 do
    local b = redis.call('HGET', LOG, s)
    if b then
      local cid = cjson.decode(b).c
      if type(cid) == 'string' then redis.call('HDEL', IDS, cid) end
      redis.call('HDEL', LOG, s)
    end
  end
  redis.call('HSET', META, 'floor', new_floor)
end

local function flush_entries()
  if #published > 0 then
    redis.call('SPUBLISH', BUS, '{"e":[' .. table.concat(published, ',') .. ']}')
    published = {}
  end
end

local function seat_changed(change)
  local version = redis.call('HINCRBY', META, 'seatVersion', 1)
  redis.call('SPUBLISH', BUS, '{"s":' .. version .. ',"c":' .. change .. '}')
  return version
end

local function set_seat(seat)
  local json = cjson.encode(seat)
  redis.call('HSET', SEATS, seat.id, json)
  return json, seat_changed('{"op":"set","seat":' .. json .. '}')
end

-- Frees a seat with its "left" notice. Returns the reply fields.
local function release(seat, reason, ts)
  redis.call('HDEL', SEATS, seat.id)
  if redis.call('HGET', NICKS, seat.key) == seat.id then redis.call('HDEL', NICKS, seat.key) end
  local version = seat_changed(cjson.encode({ op = 'delete', id = seat.id, reason = reason }))
  local seq, body = append(ts, notice(ts, 'leave', seat.nick, reason, seat.trip), '')
  local emptied = 0
  if redis.call('HLEN', SEATS) == 0 then
    redis.call('HSET', META, 'emptiedAt', ts)
    emptied = 1
  end
  return { version, cjson.encode(seat), seq, body, emptied }
end

local function is_null(v)
  return v == nil or v == cjson.null
end
`;

/** ARGV: epoch, maxEntries, count, then (ts, body, clientId) per entry. Reply: (seq, body, duplicate) per entry, then created (0/1). */
export const APPEND = `${PRELUDE}
local epoch, max, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local created = ensure_room(ARGV[4], epoch, ARGV[4])
local out = {}
for i = 0, n - 1 do
  local seq, body, dup = append(ARGV[4 + i * 3], ARGV[5 + i * 3], ARGV[6 + i * 3])
  out[#out + 1] = seq
  out[#out + 1] = body
  out[#out + 1] = dup
end
trim(max)
flush_entries()
out[#out + 1] = created
return out
`;

/**
 * ARGV: epoch, maxEntries, id, nick, key, trip ('' for none), holder, holdable (1/0), ts, maxSeats.
 * Reply: {'taken'} | {'full'} | {'ok', version, seat, seq, body, epoch}.
 */
export const CLAIM = `${PRELUDE}
local epoch, max, id, nick, key, trip, holder, holdable, ts, max_seats =
  ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], tonumber(ARGV[10])
if redis.call('HEXISTS', NICKS, key) == 1 then return { 'taken' } end
if redis.call('HLEN', SEATS) >= max_seats then return { 'full' } end
ensure_room(ts, epoch, '')
redis.call('HSET', META, 'emptiedAt', '')
local ord = redis.call('HINCRBY', META, 'seatOrd', 1)
local seat = { id = id, nick = nick, key = key, holder = holder, holdable = (holdable == '1'), joinedAt = tonumber(ts), ord = ord }
if trip ~= '' then seat.trip = trip end
redis.call('HSET', NICKS, key, id)
local json, version = set_seat(seat)
local seq, body = append(ts, notice(ts, 'join', nick, '', trip), '')
trim(max)
flush_entries()
return { 'ok', version, json, seq, body, redis.call('HGET', META, 'epoch') }
`;

/** ARGV: id, holder. Reply: false | {version, seat, previousHolder ('' if away), lastSeq, epoch}. */
export const RESUME = `${PRELUDE}
local raw = redis.call('HGET', SEATS, ARGV[1])
if not raw then return false end
local seat = cjson.decode(raw)
local previous = seat.holder
seat.holder = ARGV[2]
seat.holdUntil = nil
local json, version = set_seat(seat)
if is_null(previous) then previous = '' end
return { version, json, previous, tonumber(redis.call('HGET', META, 'lastSeq')), redis.call('HGET', META, 'epoch') }
`;

/** ARGV: id, holder, holdUntil. Reply: false | {version, seat}. */
export const AWAY = `${PRELUDE}
local raw = redis.call('HGET', SEATS, ARGV[1])
if not raw then return false end
local seat = cjson.decode(raw)
if seat.holder ~= ARGV[2] then return false end
seat.holder = nil
seat.holdUntil = tonumber(ARGV[3])
local json, version = set_seat(seat)
return { version, json }
`;

/** ARGV: epoch, maxEntries, id, holder, nick, key, ts. Reply: {'gone'} | {'taken'} | {'ok', version, seat, seq, body}. */
export const RENAME = `${PRELUDE}
local max, id, holder, nick, key, ts = tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local raw = redis.call('HGET', SEATS, id)
if not raw then return { 'gone' } end
local seat = cjson.decode(raw)
if seat.holder ~= holder then return { 'gone' } end
local other = redis.call('HGET', NICKS, key)
if other and other ~= id then return { 'taken' } end
local from = seat.nick
if redis.call('HGET', NICKS, seat.key) == id then redis.call('HDEL', NICKS, seat.key) end
redis.call('HSET', NICKS, key, id)
seat.nick = nick
seat.key = key
local json, version = set_seat(seat)
local seq, body = append(ts, notice(ts, 'rename', nick, from, seat.trip), '')
trim(max)
flush_entries()
return { 'ok', version, json, seq, body }
`;

/**
 * ARGV: epoch, maxEntries, id ('' to find by key), key, reason, ts, holder ('' for any), expired (1/0).
 * Reply: false | {version, seat, seq, body, emptied}.
 */
export const RELEASE = `${PRELUDE}
local max, id, key, reason, ts, holder, expired = tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
if id == '' then id = redis.call('HGET', NICKS, key) end
if not id then return false end
local raw = redis.call('HGET', SEATS, id)
if not raw then return false end
local seat = cjson.decode(raw)
if holder ~= '' and seat.holder ~= holder then return false end
if expired == '1' and (not is_null(seat.holder) or is_null(seat.holdUntil) or seat.holdUntil > tonumber(ts)) then return false end
local reply = release(seat, reason, ts)
trim(max)
flush_entries()
return reply
`;

/**
 * Sweeps one room. ARGV: epoch, maxEntries, now, graceMs, then the ids of
 * the live nodes. Seats held by a connection of a node not in the list
 * become away for graceMs (freed at once if not holdable). Away seats whose
 * hold ended are freed.
 * Reply: {released, orphaned, nextHoldUntil (-1 if none), seats left}.
 */
export const SWEEP = `${PRELUDE}
local max, now, grace = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local live = {}
for i = 5, #ARGV do live[ARGV[i]] = true end
local released, orphaned, next_hold = 0, 0, -1
local fields = redis.call('HGETALL', SEATS)
local seats = {}
for i = 2, #fields, 2 do seats[#seats + 1] = cjson.decode(fields[i]) end
table.sort(seats, function(a, b) return a.ord < b.ord end)
for _, seat in ipairs(seats) do
  if not is_null(seat.holder) then
    local node = string.match(seat.holder, '^([^/]*)/')
    if not live[node] then
      orphaned = orphaned + 1
      if not seat.holdable or grace <= 0 then
        release(seat, 'lost', now)
        released = released + 1
        seat = nil
      else
        seat.holder = nil
        seat.holdUntil = now + grace
        set_seat(seat)
      end
    end
  end
  if seat ~= nil and is_null(seat.holder) and not is_null(seat.holdUntil) then
    if seat.holdUntil <= now then
      release(seat, 'lost', now)
      released = released + 1
    elseif next_hold < 0 or seat.holdUntil < next_hold then
      next_hold = seat.holdUntil
    end
  end
end
trim(max)
flush_entries()
return { released, orphaned, next_hold, redis.call('HLEN', SEATS) }
`;

/** Reply: {seatVersion, seat, seat, ...} (a consistent snapshot). */
export const SEATS = `${PRELUDE}
local out = { tonumber(redis.call('HGET', META, 'seatVersion') or '0') }
for _, v in ipairs(redis.call('HVALS', SEATS)) do out[#out + 1] = v end
return out
`;

/** Reply: {seats, connected, lastSeq}. */
export const INFO = `${PRELUDE}
local connected = 0
for _, v in ipairs(redis.call('HVALS', SEATS)) do
  if not is_null(cjson.decode(v).holder) then connected = connected + 1 end
end
return { redis.call('HLEN', SEATS), connected, tonumber(redis.call('HGET', META, 'lastSeq') or '0') }
`;

/**
 * Deletes the history of a room without seats emptied at or before the
 * cutoff; the numbering and epoch stay. ARGV: cutoff.
 * Reply: 1 if expired, 0 if not (occupied, or emptied later), -1 if there is no such room.
 */
export const EXPIRE = `${PRELUDE}
if redis.call('EXISTS', META) == 0 then return -1 end
if redis.call('HLEN', SEATS) > 0 then return 0 end
local emptied = redis.call('HGET', META, 'emptiedAt')
if emptied == '' or tonumber(emptied) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', LOG, IDS)
redis.call('HSET', META, 'floor', tonumber(redis.call('HGET', META, 'lastSeq')) + 1, 'emptiedAt', '')
return 1
`;

/** A signal between nodes. ARGV: data (JSON). */
export const SIGNAL = `${PRELUDE}
redis.call('SPUBLISH', BUS, '{"g":' .. ARGV[1] .. '}')
return 1
`;
