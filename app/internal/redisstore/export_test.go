package redisstore

// PostKey exposes the cache key of a post, so tests can inspect and corrupt
// entries with a plain client.
var PostKey = postKey
