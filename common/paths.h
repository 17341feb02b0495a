/* Default locations of the socket and the state directory, as the contract orders them. */
#ifndef COORD_PATHS_H
#define COORD_PATHS_H

/*
 * The socket path: explicit (from --socket) if not NULL, else $COORD_SOCKET,
 * else /run/coordinator/coordinatord.sock for uid 0, else
 * $XDG_RUNTIME_DIR/coordinator/coordinatord.sock (/run/user/UID when unset).
 * Returns a newly allocated string the caller frees, or NULL on ENOMEM.
 */
char *paths_socket(const char *explicit_path);

/*
 * The state directory: explicit if not NULL, else /var/lib/coordinator for
 * uid 0, else $XDG_STATE_HOME/coordinator ($HOME/.local/state when unset).
 * Returns a newly allocated string the caller frees, or NULL.
 */
char *paths_state_dir(const char *explicit_dir);

/*
 * A helper program: NAME next to the running executable when it is there
 * and executable (a build tree runs its own), else NAME in fallback_dir
 * (where it is installed). A newly allocated string, or NULL on ENOMEM.
 */
char *paths_helper(const char *name, const char *fallback_dir);

/* mkdir -p with the given mode for every created component. 0 or -errno. */
int paths_mkdir_parents(const char *path, unsigned mode);

#endif
