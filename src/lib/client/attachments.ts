import { ApiError } from '$lib/shared/api-error';
import { IMAGE_TYPES } from '$lib/shared/files';
import type { AttachmentRef } from '$lib/shared/protocol';

export { formatSize } from '$lib/shared/files';

/** A file as the timeline shows it: an upload (by id), or one still on this device (a local URL; no id yet). */
export interface AttachmentView extends Omit<AttachmentRef, 'id'> {
	id?: string;
	/** An object URL of the file on this device, while it is not uploaded. */
	localUrl?: string;
}


export function isImage(attachment: Pick<AttachmentView, 'type' | 'width' | 'height'>): boolean {
	return IMAGE_TYPES.has(attachment.type) && attachment.width !== undefined;
}

export function fileUrl(id: string): string {
	return `/api/uploads/${id}`;
}

export function thumbnailUrl(id: string): string {
	return `/api/uploads/${id}/thumbnail`;
}


/** The upload limit the server last told this device (it may change with the configuration). */
export const DEFAULT_UPLOAD_MAX_BYTES = 25_000_000;

/**
 * Uploads one file, reporting progress (0 to 1). Rejects with an ApiError: status 0 when the
 * network failed (try again later), the server's code otherwise (413 `upload-too-large`…).
 */
export function uploadFile(file: Blob, name: string, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<AttachmentRef> {
	return new Promise((resolve, reject) => {
		const xhr = new XMLHttpRequest();
		xhr.open('POST', `/api/uploads?${new URLSearchParams({ name })}`);
		xhr.setRequestHeader('content-type', 'application/octet-stream');
		xhr.responseType = 'json';
		xhr.upload.onprogress = (event) => {
			if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
		};
		xhr.onload = () => {
			const body = xhr.response as { upload?: AttachmentRef; error?: { code: string; message: string } } | null;
			if (xhr.status === 201 && body?.upload) resolve(body.upload);
			else reject(new ApiError(xhr.status, body?.error?.code ?? 'error', body?.error?.message ?? `The upload failed (${xhr.status}).`));
		};
		xhr.onerror = xhr.ontimeout = () => reject(new ApiError(0, 'offline', 'No connection. It will be sent when you are back online.'));
		xhr.onabort = () => reject(new ApiError(0, 'aborted', 'The upload was stopped.'));
		signal?.addEventListener('abort', () => xhr.abort());
		xhr.send(file);
	});
}

const LIMIT_KEY = 'chat:upload-max-bytes';
let limitAsked = false;

/** The largest file the server takes, as last heard (asked once per page load; offline, the last answer). */
export function uploadMaxBytes(): number {
	if (!limitAsked && typeof fetch !== 'undefined') {
		limitAsked = true;
		void fetch('/api/uploads', { credentials: 'same-origin' })
			.then((response) => (response.ok ? (response.json() as Promise<{ maxBytes: number }>) : null))
			.then((limits) => {
				if (limits) localStorage.setItem(LIMIT_KEY, String(limits.maxBytes));
			})
			.catch(() => {});
	}
	const stored = Number(typeof localStorage === 'undefined' ? NaN : localStorage.getItem(LIMIT_KEY));
	return Number.isFinite(stored) && stored > 0 ? stored : DEFAULT_UPLOAD_MAX_BYTES;
}

/** A caption-less message in a list: "Photo", "3 photos", the file's name, or "3 files". */
export function attachmentsPreview(attachments: ReadonlyArray<Pick<AttachmentView, 'type' | 'width' | 'height' | 'name'>> | undefined): string {
	if (!attachments?.length) return '';
	const images = attachments.filter(isImage).length;
	if (images === attachments.length) return images === 1 ? 'Photo' : `${images} photos`;
	return attachments.length === 1 ? attachments[0]!.name : `${attachments.length} files`;
}
