-- Avatars (U1, U2): one per person, stored in the database so every instance serves it. Only
-- pixels the server re-encoded are kept (two lossless WebP squares); `id` is the unguessable
-- public name in the avatar's URL and changes with every new picture (cache busting).
CREATE TABLE avatars (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    id TEXT NOT NULL UNIQUE,
    large BLOB NOT NULL,
    small BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
