// The provider kinds the matrix covers, in column order.
import echo from './echo.mjs';
import openai from './openai.mjs';
import azure from './azure.mjs';
import bedrock from './bedrock.mjs';

export const KINDS = [echo, openai, azure, bedrock];
