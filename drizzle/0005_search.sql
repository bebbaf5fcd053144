-- Full-text search over message bodies (server/SPEC.md SEARCH-1). The index follows the messages
-- table through triggers: a message is indexed while it is not deleted and not a timeline line, and
-- 'secure-delete' makes a deletion remove its terms from the index itself (ERASE-2), not just mark
-- them. Its rowid is the message row's rowid (the table is never VACUUMed, which could renumber rowids).
CREATE VIRTUAL TABLE `messages_fts` USING fts5(`body`, `conversation_id` UNINDEXED, `message_id` UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
--> statement-breakpoint
INSERT INTO `messages_fts` (`messages_fts`, `rank`) VALUES ('secure-delete', 1);
--> statement-breakpoint
INSERT INTO `messages_fts` (`rowid`, `body`, `conversation_id`, `message_id`)
	SELECT `rowid`, `body`, `conversation_id`, `id` FROM `messages` WHERE `deleted_at` IS NULL AND `event` IS NULL;
--> statement-breakpoint
CREATE TRIGGER `messages_fts_insert` AFTER INSERT ON `messages` WHEN new.`deleted_at` IS NULL AND new.`event` IS NULL BEGIN
	INSERT INTO `messages_fts` (`rowid`, `body`, `conversation_id`, `message_id`) VALUES (new.`rowid`, new.`body`, new.`conversation_id`, new.`id`);
END;
--> statement-breakpoint
CREATE TRIGGER `messages_fts_update` AFTER UPDATE OF `body`, `deleted_at` ON `messages` BEGIN
	DELETE FROM `messages_fts` WHERE `rowid` = old.`rowid`;
	INSERT INTO `messages_fts` (`rowid`, `body`, `conversation_id`, `message_id`)
		SELECT new.`rowid`, new.`body`, new.`conversation_id`, new.`id` WHERE new.`deleted_at` IS NULL AND new.`event` IS NULL;
END;
--> statement-breakpoint
CREATE TRIGGER `messages_fts_delete` AFTER DELETE ON `messages` BEGIN
	DELETE FROM `messages_fts` WHERE `rowid` = old.`rowid`;
END;
