/*
 * Every error a client can see, spelled exactly as Redis 7.0 spells it.
 * Handlers pass these to reply_error(); formats go to reply_errorf().
 */
#ifndef POLLUX_ERRORS_H
#define POLLUX_ERRORS_H

#define ERR_SYNTAX         "ERR syntax error"
#define ERR_NOT_INTEGER    "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT      "ERR value is not a valid float"
#define ERR_WRONGTYPE      "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_NO_SUCH_KEY    "ERR no such key"
#define ERR_SAME_OBJECT    "ERR source and destination objects are the same"
#define ERR_DB_RANGE       "ERR DB index is out of range"
#define ERR_OVERFLOW       "ERR increment or decrement would overflow"
#define ERR_DECR_OVERFLOW  "ERR decrement would overflow"
#define ERR_INT_RANGE      "ERR value is out of range, value must between -2147483648 and 2147483647"
#define ERR_SWAPDB_FIRST   "ERR invalid first DB index"
#define ERR_SWAPDB_SECOND  "ERR invalid second DB index"
#define ERR_INCR_NAN       "ERR increment would produce NaN or Infinity"
#define ERR_OFFSET_RANGE   "ERR offset is out of range"
#define ERR_STRING_SIZE    "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
#define ERR_INVALID_CURSOR "ERR invalid cursor"
#define ERR_OOM            "OOM command not allowed when used memory > 'maxmemory'."
#define ERR_EXECABORT_OOM                                                                          \
    "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > "      \
    "'maxmemory'."
#define ERR_NOAUTH    "NOAUTH Authentication required."
#define ERR_WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."
#define ERR_AUTH_NOPASS                                                                            \
    "ERR AUTH <password> called without any password configured for the default user. Are you "    \
    "sure your configuration is correct?"
#define ERR_NOPROTO       "NOPROTO unsupported protocol version"
#define ERR_PROTO_VERSION "ERR Protocol version is not an integer or out of range"
#define ERR_MAXCLIENTS    "ERR max number of clients reached"
#define ERR_PROTECTED_MODE                                                                         \
    "DENIED Redis is running in protected mode because protected mode is enabled and no "          \
    "password is set for the default user. In this mode connections are only accepted from the "   \
    "loopback interface. If you want to connect from external computers to Redis you may adopt "   \
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "  \
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same "     \
    "host the server is running, however MAKE SURE Redis is not publicly accessible from "         \
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "   \
    "you can just disable the protected mode by editing the Redis configuration file, and "        \
    "setting the protected mode option to 'no', and then restarting the server. 3) If you "        \
    "started the server manually just for testing, restart it with the '--protected-mode no' "     \
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need "     \
    "to do one of the above things in order for the server to start accepting connections from "   \
    "the outside."
/* DEBUG and MODULE LOAD/LOADEX/UNLOAD refused by enable-debug-command / enable-module-command
 * (printf: "DEBUG" or "MODULE", then the setting's name). */
#define ERR_PROTECTED_COMMAND_FMT                                                                  \
    "ERR %s command not allowed. If the %s option is set to \"local\", you can run it from a "     \
    "local connection, otherwise you need to set this option in the configuration file, and then " \
    "restart the server."
#define ERR_READONLY         "READONLY You can't write against a read only replica."
#define ERR_MULTI_NESTED     "ERR MULTI calls can not be nested"
#define ERR_EXEC_NO_MULTI    "ERR EXEC without MULTI"
#define ERR_DISCARD_NO_MULTI "ERR DISCARD without MULTI"
#define ERR_EXECABORT        "EXECABORT Transaction discarded because of previous errors."
#define ERRF_SUBSCRIBED_ONLY                                                                       \
    "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "    \
    "allowed in this context"
#define ERRF_SUBSCRIBED_ONLY_SUB                                                                   \
    "ERR Can't execute '%s|%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "     \
    "are allowed in this context"
#define ERR_WATCH_IN_MULTI "ERR WATCH inside MULTI is not allowed"
#define ERR_NOT_IN_MULTI   "ERR Command not allowed inside a transaction"
#define ERR_EXPIRE_NXXX    "ERR NX and XX, GT or LT options at the same time are not compatible"
#define ERR_EXPIRE_GTLT    "ERR GT and LT options at the same time are not compatible"
#define ERR_LFU_OFF                                                                                \
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "      \
    "that when switching between policies at runtime LRU and LFU data will take some time to "     \
    "adjust."
#define ERR_LFU_ON                                                                                 \
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "       \
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
/* DUMP/RESTORE (cmd/dump.c) and LCS (cmd/lcs.c). */
#define ERR_DUMP_PAYLOAD "ERR DUMP payload version or checksum are wrong"
#define ERR_BAD_DATA     "ERR Bad data format"
#define ERR_BUSYKEY      "BUSYKEY Target key name already exists."
#define ERR_INVALID_TTL  "ERR Invalid TTL value, must be >= 0"
#define ERR_IDLETIME     "ERR Invalid IDLETIME value, must be >= 0"
#define ERR_FREQ         "ERR Invalid FREQ value, must be >= 0 and <= 255"
#define ERR_LCS_TYPE     "ERR The specified keys must contain string values"
#define ERR_LCS_LEN_IDX  "ERR If you want both the length and indexes, please just use IDX."
#define ERR_LCS_TOO_LONG "ERR String too long for LCS"
#define ERR_LCS_MEMORY                                                                             \
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
#define ERR_LCS_ALLOC "ERR Insufficient memory, failed allocating transient memory for LCS"

#define ERR_SYNC_NO_LINK "NOMASTERLINK Can't SYNC while not connected with my master"
#define ERR_WAIT_ON_REPLICA                                                                        \
    "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a "  \
    "replica is configured to be writable (which is not the default) writes to replicas are just " \
    "local and are not propagated."
#define ERR_TIMEOUT_NEGATIVE "ERR timeout is negative"
#define ERR_MASTER_PORT      "ERR Invalid master port"
#define ERR_LOADING          "LOADING Redis is loading the dataset in memory"
#define ERR_MASTERDOWN                                                                             \
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
#define ERR_NOREPLICAS          "NOREPLICAS Not enough good replicas to write."
#define ERR_BGSAVE_RUNNING      "ERR Background save already in progress"
#define ERR_BARE                "ERR" /* a failed SAVE: Redis gives no reason either */
#define ERR_NO_SHUTDOWN         "ERR No shutdown in progress."
#define ERR_COUNT_MIN_ONE       "ERR count should be greater than or equal to -1"
#define ERR_CONFIG_SET_ARITY    "ERR wrong number of arguments for 'config|set' command"
#define ERR_CONFIG_SET_TOO_MANY "ERR CONFIG SET failed - too many parameters"
#define ERR_NO_CONFIG_FILE      "ERR The server is running without a config file"
#define ERR_CLIENT_NAME         "ERR Client names cannot contain spaces, newlines or special characters."
#define ERR_HELLO_NOAUTH                                                                           \
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH " \
    "<user> <pass> option can be used to authenticate the client and select the RESP protocol "    \
    "version at the same time"
#define ERR_CLIENT_ID        "ERR Invalid client ID"
#define ERR_CLIENT_ID_ZERO   "ERR client-id should be greater than 0"
#define ERR_TIMEOUT_FLOAT    "ERR timeout is not a float or out of range"
#define ERR_TIMEOUT_NEGATIVE "ERR timeout is negative"
#define ERR_UNBLOCK_REASON   "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
#define ERR_UNBLOCKED        "UNBLOCKED client unblocked via CLIENT UNBLOCK"
#define ERR_UNBLOCKED_ROLE                                                                         \
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"
#define ERRF_UNBLOCK_ARGS                                                                          \
    "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try CLIENT HELP."
#define ERR_NO_SUCH_CLIENT  "ERR No such client"
#define ERR_INVALID_COMMAND "ERR Invalid command specified"
#define ERR_GETKEYS_ARITY   "ERR Invalid number of arguments specified for command"
#define ERR_NO_KEY_ARGS     "ERR The command has no key arguments"
#define ERR_GETKEYS_INVALID "ERR Invalid arguments specified for command"

/* Protocol errors (resp/parse.c): the reply before the connection is closed. */
#define ERR_PROTO_MBULK_BIG     "ERR Protocol error: too big mbulk count string"
#define ERR_PROTO_MBULK_LEN     "ERR Protocol error: invalid multibulk length"
#define ERR_PROTO_MBULK_UNAUTH  "ERR Protocol error: unauthenticated multibulk length"
#define ERR_PROTO_BULK_BIG      "ERR Protocol error: too big bulk count string"
#define ERR_PROTO_BULK_LEN      "ERR Protocol error: invalid bulk length"
#define ERR_PROTO_BULK_UNAUTH   "ERR Protocol error: unauthenticated bulk length"
#define ERR_PROTO_INLINE_BIG    "ERR Protocol error: too big inline request"
#define ERR_PROTO_INLINE_QUOTES "ERR Protocol error: unbalanced quotes in request"

/* Formats (reply_errorf). */
#define ERRF_INVALID_EXPIRE     "ERR invalid expire time in '%s' command"
#define ERRF_ARITY              "ERR wrong number of arguments for '%s' command"
#define ERRF_UNSUPPORTED_OPTION "ERR Unsupported option %.*s"                 /* (int)len, ptr */
#define ERRF_UNKNOWN_SUB        "ERR unknown subcommand '%.*s'. Try %s HELP." /* (int)len, ptr */
#define ERRF_SUB_ARITY          "ERR wrong number of arguments for '%s|%s' command"
#define ERR_POSITIVE_RANGE      "ERR value is out of range, must be positive"
/* ACL (cmd/server_acl.c, worker/dispatch.c). */
#define ERRF_ACL_UNKNOWN_CATEGORY "ERR Unknown category '%.*s'"
#define ERRF_ACL_NO_USER          "ERR User '%.*s' not found"
#define ERRF_ACL_NO_COMMAND       "ERR Command '%.*s' not found"
#define ERRF_ACL_LOAD             "ERR %.*s" /* the loader's reason: file, line, rule */
#define ERR_ACL_DELETE_DEFAULT    "ERR The 'default' user cannot be removed"
#define ERR_ACL_RANDOM            "ERR Failed to generate random bytes"
#define ERR_ACL_GENPASS_BITS                                                                       \
    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive "     \
    "number up to 4096"
#define ERR_ACL_SAVE                                                                               \
    "ERR There was an error trying to save the ACLs. Please check the server logs for more "       \
    "information"
#define ERR_NO_ACLFILE                                                                             \
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify "       \
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "      \
    "Redis configuration file set) in order to store users in the Redis configuration."
#define ERRF_NOPERM_EXEC_CHANGED                                                                   \
    "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC "   \
    "call. This command is no longer allowed for the following reason: %s"
#define ERRF_UNKNOWN_COMMAND     "ERR unknown command '%.*s', with args beginning with: %s"
#define ERRF_REPLCONF_OPTION     "ERR Unrecognized REPLCONF option: %.*s"
#define ERRF_HELLO_OPTION        "ERR Syntax error in HELLO option '%.*s'"
#define ERRF_UNRECOGNIZED_OPTION "ERR Unrecognized option '%.*s'"
#define ERRF_NAME_CHARS          "ERR %.*s cannot contain spaces, newlines or special characters."
#define ERRF_CLIENT_TYPE         "ERR Unknown client type '%.*s'"
#define ERRF_NO_SUCH_USER        "ERR No such user '%.*s'"
#define ERRF_CONFIG_SET_UNKNOWN  "ERR Unknown option or number of arguments for CONFIG SET - '%s'"
#define ERRF_CONFIG_SET_FAILED   "ERR CONFIG SET failed (possibly related to argument '%s') - %s"
#define ERRF_CONFIG_REWRITE      "ERR Rewriting config file: %s"
/* DEBUG and MODULE when their gates let a client through (cmd/server.c). */
#define ERRF_DEBUG_UNKNOWN                                                                         \
    "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG HELP."
#define ERR_MODULE_LOAD   "ERR Error loading the extension. Please check the server logs."
#define ERR_MODULE_UNLOAD "ERR Error unloading module: no such module with that name"
/* Protocol error with the offending byte (resp/parse.c). */
#define ERRF_PROTO_EXPECTED "ERR Protocol error: expected '$', got '%c'"

/* LATENCY GRAPH of an event without samples. */
#define ERRF_LATENCY_NO_SAMPLES "ERR No samples available for event '%.*s'"

#endif
