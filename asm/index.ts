// edgeq WASM kernels: one module, one linear memory. Each family lives in its own file.
export * from './f32_gemm';
export * from './peak';
export * from './f32_conv';
export * from './f32_spmm';
export * from './f32_pool';
export * from './qs8_gemm';
export * from './f16_gemm';
export * from './simd';
export * from './f32_eltwise';
export * from './f32_act';
export * from './f32_winograd';
export * from './qs8_dwconv';
export * from './qs8_eltwise';
export * from './qs8_pool';
export * from './tfl_requant';
export * from './f32_resize';
