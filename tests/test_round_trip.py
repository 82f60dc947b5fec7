"""The request path's round trip (cacheadmin.connections.round_trip): a connection of the thread's
own, replaced when the server closed it, dropped on any error, never shared with a forked child."""

import os

import pytest
import redis
from django.core.cache import caches

from cacheadmin.cache import SERVER_KEY, response_cache
from cacheadmin.connections import round_trip

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fault]


@pytest.fixture
def client(own_redis):
    return caches["default"].client.get_client(write=True)


def client_id(client):
    return round_trip(client, [("CLIENT", "ID")])[0]


def test_the_thread_keeps_its_connection_and_replies_come_in_order(client):
    first = client_id(client)
    replies = round_trip(
        client, [("SET", "rt:a", "1"), ("INCR", "rt:a"), ("MGET", "rt:a", "rt:none"), ("PTTL", "rt:a")]
    )
    assert replies == [b"OK", 2, [b"2", None], -1]
    assert client_id(client) == first


def test_a_connection_the_server_closed_is_replaced_before_use_and_checked(own_redis, client):
    first = client_id(client)
    own_redis.client().execute_command("CLIENT", "KILL", "ID", first)
    own_redis.client().delete(response_cache.name(SERVER_KEY))

    assert round_trip(client, [("PING",)]) == [b"PONG"]  # no error: replaced, as the pool would
    assert client_id(client) != first
    assert own_redis.client().get(response_cache.name(SERVER_KEY))  # the new connection checked its server


def test_an_error_reply_drops_the_connection_so_no_reply_is_read_out_of_turn(client):
    first = client_id(client)
    with pytest.raises(redis.ResponseError):
        round_trip(client, [("SET", "rt:b", "text"), ("INCR", "rt:b"), ("GET", "rt:b")])
    assert round_trip(client, [("GET", "rt:none")]) == [None]  # not b"text", the reply left unread above
    assert client_id(client) != first


def test_a_forked_child_opens_its_own_connection(client):
    parent = client_id(client)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its connection, then leave without running any cleanup
        try:
            os.write(write, str(client_id(client)).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = int(os.read(read, 64) or 0)
    os.waitpid(pid, 0)
    os.close(read)
    assert child and child != parent
    assert client_id(client) == parent  # the parent's connection is untouched


def test_commands_packed_by_hiredis_are_what_redis_py_packs(client, monkeypatch):
    from cacheadmin import connections

    commands = [("MGET", "reader:1:book:7", "gen:é"), ("INCR", "t:read:3"), ("EXPIRE", "t:read:3", 60, "NX")]
    conn = connections._connection(client.connection_pool)
    assert connections.pack_command is not None  # hiredis is installed (requirements.txt)
    with_hiredis = connections._packed(conn, commands)
    monkeypatch.setattr(connections, "pack_command", None)
    assert b"".join(connections._packed(conn, commands)) == b"".join(with_hiredis)
    assert round_trip(client, [("SET", "rt:p", "é"), ("GET", "rt:p")]) == [b"OK", "é".encode()]
