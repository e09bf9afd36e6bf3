export * from './keys';
export * from './certificates';
