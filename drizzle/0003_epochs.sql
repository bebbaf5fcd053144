ALTER TABLE `conversations` ADD `epoch` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `conversations` ADD `epoch_first_seq` integer DEFAULT 1 NOT NULL;