/** Importing this module registers every op definition. One file per op family. */
import './activation.js';
