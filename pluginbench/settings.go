package pluginbench

// StockSettings are PostgreSQL's defaults for what pgtest changes for speed:
// durable commits and 128 MB of shared_buffers.
var StockSettings = []string{"fsync=on", "synchronous_commit=on", "full_page_writes=on", "shared_buffers=128MB"}

// RecommendedSettings are the stock ones with the plugin's recommendations
// (docs/memory-plugin.md, "The database it needs"): shared_buffers that hold
// the plugin's table and indexes.
var RecommendedSettings = []string{"fsync=on", "synchronous_commit=on", "full_page_writes=on", "shared_buffers=1GB"}
