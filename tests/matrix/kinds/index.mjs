// The provider kinds the matrix covers, in column order.
import echo from './echo.mjs';
import openai from './openai.mjs';
import azure from './azure.mjs';
import cohere from './cohere.mjs';
import ollama from './ollama.mjs';

export const KINDS = [echo, openai, azure, cohere, ollama];
