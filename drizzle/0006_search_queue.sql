-- Indexing a message for search in the commit that stores it cost about a third of the server's CPU
-- per message: FTS5 writes a new index segment at every commit, and there is a commit per turn. New
-- messages now wait in `fts_pending` and are indexed in batches (server/SPEC.md SEARCH-1): every
-- second on the compaction worker, and before every search. Edits and deletions still change the
-- index in their own commit, so a deleted message is never found and its words leave at once.
CREATE TABLE `fts_pending` (`message_rowid` integer PRIMARY KEY NOT NULL);
--> statement-breakpoint
DROP TRIGGER `messages_fts_insert`;
--> statement-breakpoint
CREATE TRIGGER `messages_fts_queue` AFTER INSERT ON `messages` WHEN new.`deleted_at` IS NULL AND new.`event` IS NULL BEGIN
	INSERT OR IGNORE INTO `fts_pending` (`message_rowid`) VALUES (new.`rowid`);
END;
--> statement-breakpoint
DROP TRIGGER `messages_fts_update`;
--> statement-breakpoint
CREATE TRIGGER `messages_fts_update` AFTER UPDATE OF `body`, `deleted_at` ON `messages` BEGIN
	DELETE FROM `fts_pending` WHERE `message_rowid` = old.`rowid`;
	DELETE FROM `messages_fts` WHERE `rowid` = old.`rowid`;
	INSERT INTO `messages_fts` (`rowid`, `body`, `conversation_id`, `message_id`)
		SELECT new.`rowid`, new.`body`, new.`conversation_id`, new.`id` WHERE new.`deleted_at` IS NULL AND new.`event` IS NULL;
END;
--> statement-breakpoint
DROP TRIGGER `messages_fts_delete`;
--> statement-breakpoint
CREATE TRIGGER `messages_fts_delete` AFTER DELETE ON `messages` BEGIN
	DELETE FROM `fts_pending` WHERE `message_rowid` = old.`rowid`;
	DELETE FROM `messages_fts` WHERE `rowid` = old.`rowid`;
END;
