/**
 * The page as `npm run build:dashboard` embedded it. Kept apart from app.ts
 * so the app can be tested with other assets and only this file needs the
 * build to have run.
 */
import { DASHBOARD_ASSETS } from '../../build/dashboard/assets.ts';
import type { DashboardAssets } from './assets.ts';

export const embeddedDashboardAssets: DashboardAssets = {
  get: (name) => (Object.hasOwn(DASHBOARD_ASSETS, name) ? DASHBOARD_ASSETS[name] : undefined),
};
