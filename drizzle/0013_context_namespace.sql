PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_contexts` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`external_id` text NOT NULL,
	`title` text NOT NULL,
	`url` text,
	`image_url` text,
	`owner_id` text NOT NULL,
	`platform_id` text DEFAULT '' NOT NULL,
	`audience` text DEFAULT 'owner' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
INSERT INTO `__new_contexts`("id", "kind", "external_id", "title", "url", "image_url", "owner_id", "platform_id", "audience", "created_at", "updated_at") SELECT "id", "kind", "external_id", "title", "url", "image_url", "owner_id", coalesce("platform_id", ''), "audience", "created_at", "updated_at" FROM `contexts`;--> statement-breakpoint
DROP TABLE `contexts`;--> statement-breakpoint
ALTER TABLE `__new_contexts` RENAME TO `contexts`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `contexts_platform_kind_external_idx` ON `contexts` (`platform_id`,`kind`,`external_id`);--> statement-breakpoint
CREATE INDEX `contexts_owner_idx` ON `contexts` (`owner_id`);