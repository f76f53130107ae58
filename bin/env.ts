// Grafast reads GRAPHILE_ENV when it is first imported, so this module is imported first.
process.env.GRAPHILE_ENV ??= process.env.NODE_ENV === 'production' ? 'production' : 'development';
