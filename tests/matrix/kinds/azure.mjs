// The matrix's `azure` kind: the OpenAI emulator in its Azure mode
// (deployments, api-version, api-key header).
import { openaiKind } from './openai.mjs';

export default openaiKind('azure', 'mx-azure');
