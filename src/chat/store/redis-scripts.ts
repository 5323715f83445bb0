/**
 * The Lua scripts of the Redis store. Each runs atomically in Redis, touches
 * only the keys of one room (all with the room's hash tag, so a Redis Cluster
 * keeps them in one slot), and announces what it changed on the room's
 * sharded channel (SPUBLISH, which a script may call on a channel of its own
 * slot): announcements leave in the order the changes were made.
 *
 * Every room script takes the same eight keys:
 *   KEYS[1] meta     hash: lastSeq, floor (lowest seq kept), createdAt,
 *                    lastActivity, emptiedAt ('' while occupied), epoch,
 *                    seatVersion, seatOrd, kept ('1' once it holds more
 *                    than join/leave/rename notices)
 *   KEYS[2] log      hash: seq -> entry body (JSON without the seq: t time,
 *                    k kind, n nick, x text, c client id, p tripcode,
 *                    a author, r ref, rn refNick, e edited, and v: the
 *                    seq of the entry's last edit, whose text an edit or a
 *                    deletion empties)
 *   KEYS[3] ids      hash: client message id -> seq
 *   KEYS[4] seats    hash: seat id -> seat (JSON)
 *   KEYS[5] nicks    hash: nickname key -> seat id
 *   KEYS[6] bus      the room's channel
 *   KEYS[7] policy   hash: ownerKey, locked ('1'), password, topic, and the
 *                    JSON arrays opTrips, bans, mutes
 *   KEYS[8] invites  hash: invite code hash -> until (ms)
 *
 * Forgetting a room deletes all of them but the channel.
 *
 * Messages on the bus (JSON):
 *   {"e":[[seq, body], ...]}          entries appended
 *   {"s":version,"c":change}          a seat change
 *   {"g":data}                        a signal between nodes
 */

const PRELUDE = `
local META, LOG, IDS, SEATS, NICKS, BUS, POLICY, INVITES = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local published = {}
local BARE = { join = true, leave = true, rename = true }
-- "Until lifted" (restrictions.ts FOREVER): exact in cjson's 14 significant digits.
local FOREVER = 8640000000000000

local function is_null(v)
  return v == nil or v == false or v == cjson.null
end

local function forget()
  redis.call('DEL', META, LOG, IDS, SEATS, NICKS, POLICY, INVITES)
end

-- A JSON array field of the policy ({} when absent).
local function list(field)
  local raw = redis.call('HGET', POLICY, field)
  if not raw then return {} end
  return cjson.decode(raw)
end

local function save_list(field, items)
  if #items == 0 then redis.call('HDEL', POLICY, field) else redis.call('HSET', POLICY, field, cjson.encode(items)) end
end

local function in_force(r, now)
  local u = r['until']
  return is_null(u) or u > now
end

-- The restriction in force matching the address or the tripcode, the longest-lasting one (restrictions.ts).
local function restriction_for(field, address, trip, now)
  local found = nil
  for _, r in ipairs(list(field)) do
    if in_force(r, now) and ((address ~= '' and r.address == address) or (trip ~= '' and r.trip == trip)) then
      if found == nil or is_null(r['until']) or (not is_null(found['until']) and r['until'] > found['until']) then found = r end
      if is_null(found['until']) then break end
    end
  end
  return found
end

local function ensure_room(ts, epoch, emptied)
  if redis.call('EXISTS', META) == 1 then return 0 end
  redis.call('HSET', META, 'lastSeq', 0, 'floor', 1, 'createdAt', ts, 'lastActivity', ts,
    'emptiedAt', emptied, 'epoch', epoch, 'seatVersion', 0, 'seatOrd', 0)
  return 1
end

-- Appends one entry; a client id already stored returns the earlier entry.
local function append(ts, body, cid, kind)
  if cid ~= '' then
    local prev = redis.call('HGET', IDS, cid)
    if prev then return tonumber(prev), (redis.call('HGET', LOG, prev) or body), 1 end
  end
  local seq = redis.call('HINCRBY', META, 'lastSeq', 1)
  redis.call('HSET', LOG, seq, body)
  if cid ~= '' then redis.call('HSET', IDS, cid, seq) end
  redis.call('HSET', META, 'lastActivity', ts)
  if not BARE[kind] then redis.call('HSET', META, 'kept', '1') end
  published[#published + 1] = '[' .. seq .. ',' .. body .. ']'
  return seq, body, 0
end

local function notice(ts, kind, nick, text, trip)
  local body = { t = tonumber(ts), k = kind, n = nick, x = text }
  if trip ~= nil and trip ~= cjson.null and trip ~= '' then body.p = trip end
  return cjson.encode(body)
end

-- Empties the text of an entry's last edit (a later edit or a deletion replaced what it says).
local function supersede(entry)
  if is_null(entry.v) then return end
  local raw = redis.call('HGET', LOG, entry.v)
  if not raw then return end
  local edit = cjson.decode(raw)
  edit.x = ''
  redis.call('HSET', LOG, entry.v, cjson.encode(edit))
end

-- Keeps at most max entries (in batches of max/8, so the cost is spread over appends).
local function trim(max)
  if max <= 0 then return end
  local last = tonumber(redis.call('HGET', META, 'lastSeq'))
  -- A room forgotten by this script has nothing to trim.
  if not last then return end
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

-- Frees a seat with its "left" notice; a room left with nothing worth keeping is forgotten. Returns the reply fields.
local function release(seat, reason, ts)
  redis.call('HDEL', SEATS, seat.id)
  if redis.call('HGET', NICKS, seat.key) == seat.id then redis.call('HDEL', NICKS, seat.key) end
  local version = seat_changed(cjson.encode({ op = 'delete', id = seat.id, reason = reason }))
  local seq, body = append(ts, notice(ts, 'leave', seat.nick, reason, seat.trip), '', 'leave')
  local emptied, forgotten = 0, 0
  if redis.call('HLEN', SEATS) == 0 then
    redis.call('HSET', META, 'emptiedAt', ts)
    emptied = 1
    if redis.call('HGET', META, 'kept') ~= '1' then
      forget()
      forgotten = 1
    end
  end
  return { version, cjson.encode(seat), seq, body, emptied, forgotten }
end
`;

/** ARGV: epoch, maxEntries, count, then (ts, body, clientId, kind) per entry. Reply: (seq, body, duplicate) per entry, then created (0/1). */
export const APPEND = `${PRELUDE}
local epoch, max, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local created = ensure_room(ARGV[4], epoch, ARGV[4])
local out = {}
for i = 0, n - 1 do
  local seq, body, dup = append(ARGV[4 + i * 4], ARGV[5 + i * 4], ARGV[6 + i * 4], ARGV[7 + i * 4])
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
 * ARGV: epoch, maxEntries, id, nick, key, trip ('' for none), holder, holdable (1/0), ts, maxSeats,
 * address, ownerKey, newOwnerKey, invite, password ('' for none).
 * Reply: {'taken'} | {'full'} | {'locked'} | {'password'} | {'banned', until (-1: until lifted)}
 *      | {'ok', version, seat, seq, body, epoch, madeOwner, usedInvite}.
 */
export const CLAIM = `${PRELUDE}
local epoch, max, id, nick, key, trip, holder, holdable, ts, max_seats =
  ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], tonumber(ARGV[10])
local address, owner_key, new_owner, invite, password = ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15]
local now = tonumber(ts)
if redis.call('HEXISTS', NICKS, key) == 1 then return { 'taken' } end
if redis.call('HLEN', SEATS) >= max_seats then return { 'full' } end
local exists = redis.call('EXISTS', META) == 1
local role, made_owner, used_invite = 'user', 0, 0
if owner_key ~= '' and redis.call('HGET', POLICY, 'ownerKey') == owner_key then
  role = 'owner'
elseif not exists and new_owner ~= '' then
  role = 'owner'
  made_owner = 1
elseif exists and trip ~= '' then
  for _, t in ipairs(list('opTrips')) do
    if t == trip then role = 'operator' end
  end
end
if exists then
  if role ~= 'owner' then
    local ban = restriction_for('bans', address, trip, now)
    if ban then
      if is_null(ban['until']) then return { 'banned', -1 } end
      return { 'banned', ban['until'] }
    end
  end
  if role == 'user' then
    local locked = redis.call('HGET', POLICY, 'locked') == '1'
    local pw = redis.call('HGET', POLICY, 'password')
    if locked or pw then
      local inv = invite ~= '' and redis.call('HGET', INVITES, invite)
      if inv and tonumber(inv) > now then
        used_invite = 1
      elseif locked then
        return { 'locked' }
      elseif password ~= pw then
        return { 'password' }
      end
    end
  end
end
ensure_room(ts, epoch, '')
redis.call('HSET', META, 'emptiedAt', '')
if used_invite == 1 then redis.call('HDEL', INVITES, invite) end
if made_owner == 1 then redis.call('HSET', POLICY, 'ownerKey', new_owner) end
local ord = redis.call('HINCRBY', META, 'seatOrd', 1)
local seat = { id = id, nick = nick, key = key, holder = holder, holdable = (holdable == '1'), joinedAt = now, ord = ord, role = role }
if trip ~= '' then seat.trip = trip end
if address ~= '' then seat.address = address end
if exists then
  local mute = restriction_for('mutes', address, trip, now)
  if mute then
    if is_null(mute['until']) then seat.mutedUntil = FOREVER else seat.mutedUntil = mute['until'] end
  end
end
redis.call('HSET', NICKS, key, id)
local json, version = set_seat(seat)
local seq, body = append(ts, notice(ts, 'join', nick, '', trip), '', 'join')
trim(max)
flush_entries()
return { 'ok', version, json, seq, body, redis.call('HGET', META, 'epoch'), made_owner, used_invite }
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
local seq, body = append(ts, notice(ts, 'rename', nick, from, seat.trip), '', 'rename')
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
 * Forgets a room without seats emptied at or before the cutoff (everything
 * but its channel). ARGV: cutoff.
 * Reply: 1 if forgotten, 0 if not (occupied, or emptied later), -1 if there is no such room.
 */
export const EXPIRE = `${PRELUDE}
if redis.call('EXISTS', META) == 0 then return -1 end
if redis.call('HLEN', SEATS) > 0 then return 0 end
local emptied = redis.call('HGET', META, 'emptiedAt')
if emptied == '' or tonumber(emptied) > tonumber(ARGV[1]) then return 0 end
forget()
return 1
`;

/**
 * A moderation change and its notice. ARGV: epoch, maxEntries, ts, op,
 * change (JSON, as ModerationChange without op), notice nick, notice trip
 * ('' for none), notice text.
 * Reply: {'gone'} | {'not-found'} | {'ok', seq, body} followed, when a seat
 * changed, by (version, 'set', seat JSON) or (version, 'delete', id).
 */
export const MODERATE = `${PRELUDE}
local epoch, max, ts, op = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local c = cjson.decode(ARGV[5])
local by, by_trip, text = ARGV[6], ARGV[7], ARGV[8]
local now = tonumber(ts)
local function has(ids, id)
  for _, x in ipairs(ids) do
    if x == id then return true end
  end
  return false
end
local function seat_of(id)
  if is_null(id) then return nil end
  local raw = redis.call('HGET', SEATS, id)
  if not raw then return nil end
  return cjson.decode(raw)
end
-- Refusals first: nothing is created or stored for them.
if op == 'role' then
  if not seat_of(c.seat) then return { 'gone' } end
elseif op == 'unban' then
  local found = false
  for _, r in ipairs(list('bans')) do
    if has(c.ids, r.id) then found = true end
  end
  if not found then return { 'not-found' } end
elseif op == 'unmute' then
  local found = false
  for _, r in ipairs(list('mutes')) do
    if has(c.ids, r.id) then found = true end
  end
  local seat = seat_of(c.seat)
  if not found and (seat == nil or is_null(seat.mutedUntil)) then return { 'not-found' } end
elseif op == 'delete' then
  local raw = redis.call('HGET', LOG, c.seq)
  if not raw then return { 'not-found' } end
  local target = cjson.decode(raw)
  local k = target.k
  if k ~= 'message' and k ~= 'action' and k ~= 'admin' then return { 'not-found' } end
  if not is_null(c.author) and target.a ~= c.author then return { 'not-yours' } end
  if not is_null(c.since) and target.t < c.since then return { 'too-late' } end
end
ensure_room(ts, epoch, ts)
-- A room with moderation in its history is worth keeping (a ban must outlive its last member).
redis.call('HSET', META, 'kept', '1')
local function mod_entry()
  return append(ts, notice(ts, 'mod', by, text, by_trip), '', 'mod')
end
local function add(field, restriction)
  local kept = {}
  for _, r in ipairs(list(field)) do
    if in_force(r, now) then kept[#kept + 1] = r end
  end
  kept[#kept + 1] = restriction
  save_list(field, kept)
end
local function remove(field, ids)
  local kept = {}
  for _, r in ipairs(list(field)) do
    if not has(ids, r.id) then kept[#kept + 1] = r end
  end
  save_list(field, kept)
end
local out
if op == 'role' then
  local seat = seat_of(c.seat)
  seat.role = c.role
  if not is_null(seat.trip) then
    local trips = {}
    for _, t in ipairs(list('opTrips')) do
      if t ~= seat.trip then trips[#trips + 1] = t end
    end
    if c.trip == 'add' then trips[#trips + 1] = seat.trip end
    if c.trip == 'add' or c.trip == 'remove' then save_list('opTrips', trips) end
  end
  local json, version = set_seat(seat)
  local seq, body = mod_entry()
  out = { 'ok', seq, body, version, 'set', json }
elseif op == 'ban' then
  add('bans', c.restriction)
  local seat = seat_of(c.seat)
  if seat then
    local r = release(seat, text, ts)
    out = { 'ok', r[3], r[4], r[1], 'delete', seat.id }
  else
    local seq, body = mod_entry()
    out = { 'ok', seq, body }
  end
elseif op == 'unban' then
  remove('bans', c.ids)
  local seq, body = mod_entry()
  out = { 'ok', seq, body }
elseif op == 'mute' then
  add('mutes', c.restriction)
  local seat = seat_of(c.seat)
  local version, json
  if seat then
    if is_null(c.restriction['until']) then seat.mutedUntil = FOREVER else seat.mutedUntil = c.restriction['until'] end
    json, version = set_seat(seat)
  end
  local seq, body = mod_entry()
  out = { 'ok', seq, body }
  if seat then out = { 'ok', seq, body, version, 'set', json } end
elseif op == 'unmute' then
  remove('mutes', c.ids)
  local seat = seat_of(c.seat)
  local version, json
  if seat and not is_null(seat.mutedUntil) then
    seat.mutedUntil = nil
    json, version = set_seat(seat)
  end
  local seq, body = mod_entry()
  out = { 'ok', seq, body }
  if json then out = { 'ok', seq, body, version, 'set', json } end
elseif op == 'lock' then
  if c.locked then redis.call('HSET', POLICY, 'locked', '1') else redis.call('HDEL', POLICY, 'locked') end
  local seq, body = mod_entry()
  out = { 'ok', seq, body }
elseif op == 'password' or op == 'topic' then
  local field, value = op, c.hash
  if op == 'topic' then value = c.topic end
  if is_null(value) then redis.call('HDEL', POLICY, field) else redis.call('HSET', POLICY, field, value) end
  local seq, body = mod_entry()
  out = { 'ok', seq, body }
elseif op == 'delete' then
  local old = cjson.decode(redis.call('HGET', LOG, c.seq))
  local tomb = { t = old.t, k = 'deleted', n = '', x = '' }
  if not is_null(old.c) then tomb.c = old.c end
  if not is_null(old.a) then tomb.a = old.a end
  supersede(old)
  redis.call('HSET', LOG, c.seq, cjson.encode(tomb))
  local seq, body = mod_entry()
  out = { 'ok', seq, body }
elseif op == 'invite' then
  local all = redis.call('HGETALL', INVITES)
  for i = 1, #all, 2 do
    if tonumber(all[i + 1]) <= now then redis.call('HDEL', INVITES, all[i]) end
  end
  redis.call('HSET', INVITES, c.hash, c['until'])
  local seq, body = mod_entry()
  out = { 'ok', seq, body }
else
  return redis.error_reply('unknown moderation op ' .. op)
end
trim(max)
flush_entries()
return out
`;

/**
 * A token bucket (not a room script: KEYS[1] is the bucket). ARGV: capacity,
 * perHour, now. The key expires when the bucket would be full again.
 * Reply: {1} | {0, retryAfterMs}.
 */
export const TOKEN = `
local cap, per_hour, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
-- Multiplying before dividing keeps whole numbers whole (as the other stores do).
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = cap
if b[1] then
  tokens = math.min(cap, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * per_hour / 3600000)
end
local ok = tokens >= 1
local left = tokens
if ok then left = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', left), 'at', string.format('%d', now))
if per_hour > 0 then redis.call('PEXPIRE', KEYS[1], math.ceil((cap - left) * 3600000 / per_hour) + 1000) end
if ok then return { 1 } end
if per_hour <= 0 then return { 0, -1 } end
return { 0, math.ceil((1 - tokens) * 3600000 / per_hour) }
`;
/**
 * An author's edit of its message or action. ARGV: epoch, maxEntries, seq,
 * text, author, since, ts, nick, trip ('' for none), clientId ('' for none).
 * Reply: {'not-found'} | {'not-yours'} | {'too-late'} | {'dup', seq, body}
 * (the client id was stored: nothing changed) | {'ok', seq, body}.
 */
export const EDIT = `${PRELUDE}
local max, seq, text, author, since, ts, nick, trip, cid =
  tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9], ARGV[10]
if cid ~= '' then
  local prev = redis.call('HGET', IDS, cid)
  if prev then
    local body = redis.call('HGET', LOG, prev)
    if body then return { 'dup', tonumber(prev), body } end
  end
end
local raw = redis.call('HGET', LOG, seq)
if not raw then return { 'not-found' } end
local target = cjson.decode(raw)
if target.k ~= 'message' and target.k ~= 'action' then return { 'not-found' } end
if target.a ~= author then return { 'not-yours' } end
if target.t < since then return { 'too-late' } end
supersede(target)
local notice = { t = tonumber(ts), k = 'edit', n = nick, x = text, a = author, r = tonumber(seq) }
if trip ~= '' then notice.p = trip end
if cid ~= '' then notice.c = cid end
local nseq, nbody = append(ts, cjson.encode(notice), cid, 'edit')
target.x = text
target.e = tonumber(ts)
target.v = nseq
redis.call('HSET', LOG, seq, cjson.encode(target))
trim(max)
flush_entries()
return { 'ok', nseq, nbody }
`;

/** A signal between nodes. ARGV: data (JSON). */
export const SIGNAL = `${PRELUDE}
redis.call('SPUBLISH', BUS, '{"g":' .. ARGV[1] .. '}')
return 1
`;
