-- Key-value data of WASM plugins, one namespace per plugin.
CREATE TABLE plugin_kv (
    plugin  TEXT NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (plugin, key)
);
