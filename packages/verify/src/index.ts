export { VerifyError, type VerifyErrorCode } from './errors.js';
export { tesseraExpress, tesseraFastify } from './middleware.js';
export {
  createVerifier,
  type Requirement,
  type VerifiedToken,
  type Verifier,
  type VerifierOptions,
} from './verifier.js';
