// The provider kinds the matrix covers, in column order.
import echo from './echo.mjs';
import openai from './openai.mjs';
import azure from './azure.mjs';
import anthropic from './anthropic.mjs';
import bedrock from './bedrock.mjs';
import gemini from './gemini.mjs';
import cohere from './cohere.mjs';
import ollama from './ollama.mjs';

export const KINDS = [echo, openai, azure, anthropic, bedrock, gemini, cohere, ollama];
