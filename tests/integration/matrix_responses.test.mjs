// The translation-fidelity matrix, Responses in: every provider kind x every
// row (tests/matrix/), each cell one test printing its MATRIX line.
import { run } from '../matrix/run.mjs';

run('responses');
