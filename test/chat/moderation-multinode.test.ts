/**
 * Moderation across two nodes on one Redis (issue 11, section 5): what an
 * owner or operator does on one node takes effect at once for members on
 * the other (a ban closes their connection there, a role change reaches
 * them, a mute stops their posts), and the room's rules hold on every node
 * (a ban or lock made on one refuses joins on the other; an invite admits
 * one person once, whichever node they try, even trying both at once; new
 * rooms per address are counted across the nodes). Members are told apart
 * by address through a trusted proxy (X-Forwarded-For).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { assertPeer, findRedis, peerSkip } from '../support/peers.js';
import { type RedisServer, startRedis } from '../support/redis.js';
import { JsonClient, within, wsUrl } from './support/clients.js';
import { type ChatNode, startNode, stopNodes } from './support/nodes.js';

const redisPeer = findRedis();
const T = { timeout: 120_000 };

describe('moderation across two nodes on Redis', { skip: peerSkip(redisPeer) }, () => {
  let redis: RedisServer;
  let nodes: ChatNode[] = [];
  const clients: JsonClient[] = [];
  before(async () => {
    assertPeer(redisPeer);
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
    await stopNodes(nodes);
    nodes = [];
  });

  async function twoNodes(extra: string[] = []): Promise<[ChatNode, ChatNode]> {
    nodes = await Promise.all(['a', 'b'].map((n) => startNode(n, redis.url, ['--trust-proxy', '127.0.0.1', ...extra])));
    return [nodes[0]!, nodes[1]!];
  }

  /** A client of `node` in `room`, at `address`. */
  async function client(node: ChatNode, room: string, address: string): Promise<JsonClient> {
    const c = await JsonClient.open(wsUrl(node.port, `/r/${room}`), { headers: { 'X-Forwarded-For': address } });
    clients.push(c);
    return c;
  }

  test('ban, kick, op, deop, mute, unmute, unban: made on one node, felt on the other', T, async () => {
    const [a, b] = await twoNodes();
    const room = `m${Date.now()}`;
    const alice = await client(a, room, '203.0.113.1');
    assert.equal((await alice.join('alice')).role, 'owner');
    const bob = await client(b, room, '203.0.113.2');
    await bob.join('bob');
    const carol = await client(b, room, '203.0.113.3');
    await carol.join('carol');
    const dave = await client(a, room, '203.0.113.4');
    await dave.join('dave');

    // op on a reaches carol on b; carol's powers work from b on a member of a.
    await alice.say('/op carol');
    assert.deepEqual(await carol.expect('role'), { type: 'role', role: 'operator' });
    await carol.say('/mute dave 1h');
    const muted = await dave.request('hello?');
    assert.equal(muted.type === 'error' && muted.code, 'MUTED');
    await carol.say('/unmute dave');
    await alice.expect('notice', (n) => n.action === 'unmute');
    await dave.say('heard again');

    // A ban on a closes bob's connection on b, with the reason; bob is kept out on both nodes.
    await alice.say('/ban bob 1h');
    const removed = await bob.expect('removed');
    assert.equal(removed.text, 'You were banned from this room by alice for 1h.');
    assert.equal((await within(bob.closed, 'bob closed')).code, 1008);
    const notice = await carol.expect('notice', (n) => n.event === 'leave' && n.nick === 'bob');
    assert.equal(notice.text, 'bob was banned by alice for 1h');
    for (const node of [a, b]) {
      const retry = await (await client(node, room, '203.0.113.2')).tryJoin('bobby');
      assert.equal(retry.type === 'error' && retry.code, 'BANNED', node.name);
    }
    await carol.say('/unban bob');
    await (await client(a, room, '203.0.113.2')).join('bob');

    // A kick from b of a member on a; deop from a of carol on b.
    await carol.say('/kick dave');
    assert.equal((await dave.expect('removed')).text, 'You were kicked from this room by carol.');
    await alice.say('/deop carol');
    assert.deepEqual(await carol.expect('role', (r) => r.role === 'user'), { type: 'role', role: 'user' });
    const denied = await carol.request('/kick alice');
    assert.equal(denied.type === 'error' && denied.code, 'FORBIDDEN');
  });

  test('topic, delete, lock, password and invites hold on every node; an invite admits one person even when tried on both at once', T, async () => {
    const [a, b] = await twoNodes();
    const room = `p${Date.now()}`;
    const alice = await client(a, room, '203.0.113.1');
    await alice.join('alice');
    const bob = await client(b, room, '203.0.113.2');
    await bob.join('bob');

    await alice.say('/topic Ship it');
    assert.equal((await bob.expect('notice', (n) => n.action === 'topic')).topic, 'Ship it');
    const oops = await bob.say('delete me');
    await alice.say(`/delete ${oops.seq}`);
    assert.equal((await bob.expect('notice', (n) => n.action === 'delete')).deleted, oops.seq);

    await alice.say('/lock');
    const locked = await (await client(b, room, '198.51.100.1')).tryJoin('newcomer');
    assert.equal(locked.type === 'error' && locked.code, 'LOCKED');
    alice.send({ type: 'message', id: 'inv', text: '/invite' });
    const invite = await alice.expect('invite');
    // Two people with the same link, one on each node, at the same moment.
    const [x, y] = await Promise.all([client(a, room, '198.51.100.2'), client(b, room, '198.51.100.3')]);
    const answers = await Promise.all([x.tryJoin('xavier', { invite: invite.code }), y.tryJoin('yolanda', { invite: invite.code })]);
    assert.deepEqual(answers.map((w) => w.type).sort(), ['error', 'welcome'], JSON.stringify(answers));
    const refusedInvite = answers.find((w) => w.type === 'error');
    assert.equal(refusedInvite?.type === 'error' && refusedInvite.code, 'INVITE_INVALID');
    const joined = answers.find((w) => w.type === 'welcome');
    assert.equal(joined?.type === 'welcome' && joined.topic, 'Ship it', 'the topic in the welcome, on either node');

    await alice.say('/unlock');
    await alice.say('/password sesame');
    const needs = await (await client(b, room, '198.51.100.4')).tryJoin('walker');
    assert.equal(needs.type === 'error' && needs.code, 'PASSWORD_REQUIRED');
    await (await client(b, room, '198.51.100.5')).join('walker2', { password: 'sesame' });
  });

  test('new rooms per address are counted across the nodes (through the store)', T, async () => {
    const [a, b] = await twoNodes(['--address-rooms', '2']);
    const stamp = Date.now();
    await (await client(a, `r1-${stamp}`, '203.0.113.50')).join('maker');
    await (await client(b, `r2-${stamp}`, '203.0.113.50')).join('maker');
    for (const node of [a, b]) {
      const third = await (await client(node, `r3-${stamp}-${node.name}`, '203.0.113.50')).tryJoin('maker');
      assert.equal(third.type === 'error' && third.code, 'RATE_LIMITED', node.name);
    }
    await (await client(b, `r3-${stamp}-b`, '203.0.113.51')).join('someone-else');
  });
});
