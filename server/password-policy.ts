/** Length bounds of the admin password: ADMIN_PASSWORD (server/config.ts) and every new one (auth/schemas.ts). */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;
