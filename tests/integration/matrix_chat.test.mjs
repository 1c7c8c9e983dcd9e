// The translation-fidelity matrix, Chat Completions in: every provider kind x every
// row (tests/matrix/), each cell one test printing its MATRIX line.
import { run } from '../matrix/run.mjs';

run('chat');
