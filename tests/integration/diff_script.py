"""Lua scripts for the differential test (test_differential.py): EVAL, EVAL_RO, EVALSHA and
SCRIPT LOAD/EXISTS over the script's random keys, with scripts that read and write every
type, fail inside redis.call and redis.pcall, convert replies both ways (RESP3 included),
and read keys they do not declare or every shard (Pollux then runs them again holding every
shard). Replies that Redis orders by its hash tables are sorted inside the script; every
reply is compared byte for byte, errors and their " script: <sha1>" suffixes included."""

import hashlib

# (body, the kinds of its arguments: "k" a key, "v" a value, "n" a small number); KEYS come
# first, as many as the body's KEYS[] uses (the count before the kinds)
SCRIPTS = [
    ("return redis.call('get', KEYS[1])", 1, ""),
    ("redis.call('set', KEYS[1], ARGV[1])\nreturn redis.call('strlen', KEYS[1])", 1, "v"),
    ("return redis.call('incrby', KEYS[1], ARGV[1])", 1, "v"),
    ("return redis.pcall('lpush', KEYS[1], ARGV[1])", 1, "v"),
    ("local t = redis.call('lrange', KEYS[1], 0, -1)\nreturn {#t, t[1]}", 1, ""),
    ("local t = redis.pcall('smembers', KEYS[1])\nif t.err then return t end\n"
     "table.sort(t)\nreturn t", 1, ""),
    ("local t = redis.pcall('hgetall', KEYS[1])\nif t.err then return t end\nlocal r = {}\n"
     "for i = 1, #t, 2 do r[#r + 1] = t[i] .. '=' .. t[i + 1] end\ntable.sort(r)\nreturn r",
     1, ""),
    ("return {redis.call('exists', KEYS[1], KEYS[2]), redis.call('type', KEYS[1]),\n"
     "  redis.call('type', KEYS[2]).ok}", 2, ""),
    ("redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])\n"
     "return redis.call('zscore', KEYS[1], ARGV[2])", 1, "nv"),
    ("return redis.call('sunionstore', KEYS[1], KEYS[2], KEYS[3])", 3, ""),
    ("local v = redis.call('get', ARGV[1])\nredis.call('set', KEYS[1], v or 'none')\n"
     "return v", 1, "k"),
    ("return redis.call('exists', ARGV[1], ARGV[2])", 0, "kk"),
    ("return redis.call('dbsize')", 0, ""),
    ("redis.setresp(3)\nlocal v = redis.call('zscore', KEYS[1], ARGV[1])\n"
     "return {type(v), type(v) == 'table' and v.double or 'none'}", 1, "v"),
    ("redis.setresp(3)\nreturn redis.call('get', KEYS[1])", 1, ""),
    ("return cjson.encode({redis.call('incr', KEYS[1])})", 1, ""),
    ("return redis.call('del', KEYS[1], KEYS[2])", 2, ""),
    ("local n = 0\nfor i = 1, tonumber(ARGV[1]) do n = redis.call('rpush', KEYS[1], i) end\n"
     "return n", 1, "n"),
    ("return redis.call('nosuchcmd')", 0, ""),
    ("return redis.call('set', KEYS[1])", 1, ""),
    ("error('stopped at ' .. ARGV[1])", 0, "n"),
    ("return {1, 2.9, -3.5, 'x', true, false, nil, 3}", 0, ""),
    ("return redis.error_reply('MINE ' .. ARGV[1])", 0, "n"),
    ("local ok, e = pcall(redis.call, 'hset', KEYS[1], 'f', ARGV[1])\n"
     "return {tostring(ok), e}", 1, "v"),
    ("return redis.call('getdel', KEYS[1])", 1, ""),
]


def sha1(body):
    return hashlib.sha1(body.encode()).hexdigest().encode()


def generators(s):
    rnd = s.rnd

    def args_for(kinds):
        out = []
        for kind in kinds:
            if kind == "k":
                out.append(s.key())
            elif kind == "n":
                out.append(str(rnd.choice([0, 1, 2, 3, -1, 7])).encode())
            else:
                out.append(s.value())
        return out

    def run(cmd, body, nkeys, kinds, by):
        keys = [s.key() for _ in range(nkeys)]
        return [cmd, by, str(nkeys).encode()] + keys + args_for(kinds)

    def evaluate():
        body, nkeys, kinds = rnd.choice(SCRIPTS)
        cmd = b"EVAL_RO" if rnd.random() < 0.2 else b"EVAL"
        return run(cmd, body, nkeys, kinds, body.encode())

    def by_sha():
        body, nkeys, kinds = rnd.choice(SCRIPTS)
        cmd = b"EVALSHA_RO" if rnd.random() < 0.2 else b"EVALSHA"
        sha = sha1(body)
        return run(cmd, body, nkeys, kinds, sha.upper() if rnd.random() < 0.2 else sha)

    def script_cmd():
        body = rnd.choice(SCRIPTS)[0]
        return rnd.choice([[b"SCRIPT", b"LOAD", body.encode()],
                           [b"SCRIPT", b"EXISTS", sha1(body), sha1(body + " ")],
                           [b"EVAL", b"return 1", rnd.choice([b"-1", b"x", b"2"])]])

    return [(3, evaluate), (1.5, by_sha), (0.5, script_cmd)]


RULES = {}
