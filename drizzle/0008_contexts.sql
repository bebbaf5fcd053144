CREATE TABLE `contexts` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`external_id` text NOT NULL,
	`title` text NOT NULL,
	`url` text,
	`image_url` text,
	`owner_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `contexts_kind_external_idx` ON `contexts` (`kind`,`external_id`);--> statement-breakpoint
CREATE INDEX `contexts_owner_idx` ON `contexts` (`owner_id`);--> statement-breakpoint
ALTER TABLE `conversations` ADD `context_id` text REFERENCES contexts(id);--> statement-breakpoint
ALTER TABLE `conversations` ADD `initiator_id` text REFERENCES users(id);--> statement-breakpoint
ALTER TABLE `conversations` ADD `status` text DEFAULT 'open' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `conversations_context_initiator_idx` ON `conversations` (`context_id`,`initiator_id`);