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
#define ERR_NOAUTH         "NOAUTH Authentication required."
#define ERR_WRONGPASS      "WRONGPASS invalid username-password pair or user is disabled."
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
#define ERR_NOT_IN_MULTI     "ERR Command not allowed inside a transaction"
#define ERR_EXPIRE_NXXX      "ERR NX and XX, GT or LT options at the same time are not compatible"
#define ERR_EXPIRE_GTLT      "ERR GT and LT options at the same time are not compatible"
#define ERR_LFU_OFF                                                                                \
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "      \
    "that when switching between policies at runtime LRU and LFU data will take some time to "     \
    "adjust."
#define ERR_LFU_ON                                                                                 \
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "       \
    "switching between policies at runtime LRU and LFU data will take some time to adjust."

/* Formats (reply_errorf). */
#define ERRF_INVALID_EXPIRE     "ERR invalid expire time in '%s' command"
#define ERRF_ARITY              "ERR wrong number of arguments for '%s' command"
#define ERRF_UNKNOWN_SUB        "ERR unknown subcommand '%.128s'. Try %s HELP."
#define ERRF_UNSUPPORTED_OPTION "ERR Unsupported option %.*s" /* (int)len, ptr */

#endif
