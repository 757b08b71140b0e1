/** The one content width of every page: the top bar and the page body line up on both edges. */
export const SHELL = "mx-auto w-full max-w-7xl px-4 sm:px-6";
