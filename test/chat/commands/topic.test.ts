import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { topic } from '../../../src/chat/commands/topic.js';
import { modRoom } from './room-setup.js';

describe('/topic', () => {
  test('declares itself: anyone reads it, operators set it', () => {
    assert.deepEqual([topic.name, topic.level, topic.console], ['topic', undefined, true]);
  });

  test('set: a notice with the topic to everyone; newcomers get it in their welcome; /topic shows it', async () => {
    const r = await modRoom();
    assert.equal(r.bob.conn.last('welcome').topic, null);
    assert.deepEqual(await r.type(r.alice, '/topic Release   planning\nFriday'), { info: 'the topic is set' });
    const notice = r.bob.conn.last('notice');
    assert.deepEqual([notice.action, notice.topic, notice.text], ['topic', 'Release   planning Friday', 'alice set the topic: Release   planning Friday']);
    assert.equal((await r.join('dave')).conn.last('welcome').topic, 'Release   planning Friday');
    assert.deepEqual(await r.type(r.bob, '/topic'), { info: `Topic of ${r.room}: Release   planning Friday` });
    assert.deepEqual(await r.type(r.alice, '/topic -'), { info: 'the topic is cleared' });
    assert.equal(r.bob.conn.last('notice').text, 'alice cleared the topic');
    assert.equal(r.bob.conn.last('notice').topic, null);
    assert.deepEqual(await r.type(r.bob, '/topic'), { info: `${r.room} has no topic` });
  });

  test('members cannot set it; text rules apply', async () => {
    const r = await modRoom();
    assert.equal((await r.type(r.bob, '/topic mine now')).error?.code, 'FORBIDDEN');
    assert.equal((await r.type(r.alice, `/topic ${'x'.repeat(201)}`)).error?.message, 'a topic is at most 200 characters');
    assert.equal((await r.type(r.alice, '/topic \u200b\u2800')).error?.code, 'EMPTY_MESSAGE');
    assert.equal((await r.type(r.alice, '/topic a\u202eb')).info, 'the topic is set');
    assert.equal(r.bob.conn.last('notice').topic, 'ab', 'bidi overrides removed');
  });
});
