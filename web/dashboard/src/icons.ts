/* Line icons (24x24 paths, several joined by "|"), drawn by dom.ts icon(). */
export const ICONS = {
    live: 'M3 12h4l3-8 4 16 3-8h4',
    journeys: 'M4 6h5a4 4 0 0 1 4 4v4a4 4 0 0 0 4 4h3|M4 18h5a4 4 0 0 0 4-4|M17 15l3 3-3 3',
    funnels: 'M3 4h18l-7 8v6l-4 2v-8z',
    retention: 'M4 4h4v4H4z|M10 4h4v4h-4z|M16 4h4v4h-4z|M4 10h4v4H4z|M10 10h4v4h-4z|M4 16h4v4H4z',
    segments: 'M4 20V10|M10 20V4|M16 20v-7|M22 20H2',
    interventions: 'M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z|M9 11h.01M12 11h.01M15 11h.01',
    model: 'M12 3l8 4.5v9L12 21l-8-4.5v-9z|M12 12l8-4.5|M12 12v9|M12 12L4 7.5',
    deadletters: 'M4 6h16v12H4z|M4 7l8 6 8-6',
    videos: 'M4 6h11v12H4z|M15 10l5-3v10l-5-3',
    menu: 'M4 6h16M4 12h16M4 18h16',
    close: 'M6 6l12 12M18 6L6 18',
    signout: 'M15 4h4v16h-4|M10 8l-4 4 4 4|M6 12h10',
    filter: 'M4 5h16l-6 7v6l-4 2v-8z',
} as const;
