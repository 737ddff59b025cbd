// The ES-module build of libsamplerate-js has the types of its CommonJS build.
declare module '@alexanderolsen/libsamplerate-js/dist/libsamplerate.worklet.js' {
  export * from '@alexanderolsen/libsamplerate-js/dist/libsamplerate.js';
}
