using HeadWise.Heads;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Generation;

/// <summary>
/// Prefill in chunks, then decode one token at a time with the KV cache. With <see cref="Hooks"/> every forward call (each
/// prefill chunk and each decode step) runs them, so a head ablated or a steering vector added holds for the whole generation.
/// </summary>
public sealed class Generator(Transformer model)
{
    /// <summary>Prompt tokens per forward during prefill; bounds the attention scratch memory on long prompts.</summary>
    public int PrefillChunk { get; init; } = 512;

    /// <summary>
    /// Hooks (a <see cref="HookSet"/>: interventions, steering, captures) run on every forward call. Positions a hook sees
    /// are those of the call: the prefill chunk, then one new token per decode step (keys and patterns span the cache).
    /// </summary>
    public IForwardHooks? Hooks { get; init; }

    /// <summary>
    /// Feeds <paramref name="tokens"/> through the cache in chunks (a cache compressing under <see cref="CompressMode.Chunked"/>
    /// compresses between them); returns the last position's logits.
    /// </summary>
    public float[] Prefill(IKvCache cache, IReadOnlyList<int> tokens)
    {
        if (tokens.Count == 0) throw new HeadWiseException("the prompt has no tokens");
        CheckContext(cache, cache.Length + tokens.Count);
        float[] last = [];
        for (int i = 0; i < tokens.Count; i += PrefillChunk)
        {
            int n = Math.Min(PrefillChunk, tokens.Count - i);
            last = Step(cache, tokens.Skip(i).Take(n).ToArray());
        }
        return last;
    }

    /// <summary>One forward over <paramref name="tokens"/> after the cache; the last position's logits.</summary>
    public float[] Step(IKvCache cache, int[] tokens)
    {
        float[] logits = [];
        Step(cache, tokens, ref logits);
        return logits;
    }

    /// <summary>
    /// As <see cref="Step(IKvCache, int[])"/>, into <paramref name="logits"/> when it has the right length (else a new
    /// array): a decode loop that reuses one array allocates nothing per token. Why: a vocabulary's logits (128 KB at
    /// 32,000 tokens) land on the large-object heap, and one such array per token set off a full collection every ~16
    /// tokens, 0.1-1 ms per token on average on the ~110M model's decode (docs/benchmarks.md, "Decode at 16 bits").
    /// </summary>
    public unsafe void Step(IKvCache cache, int[] tokens, ref float[] logits)
    {
        using var scope = torch.NewDisposeScope();
        using var ids = torch.tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        using var output = model.Forward(ids, cache, Hooks, lastOnly: true).to(ScalarType.Float32).contiguous();
        int n = (int)output.NumberOfElements;
        if (logits.Length != n) logits = new float[n];
        new ReadOnlySpan<float>(Runtime.TensorMemory.Address<float>(output), n).CopyTo(logits);
    }

    /// <summary>
    /// Generates up to <paramref name="maxTokens"/> tokens after <paramref name="prompt"/>, stopping at EOS.
    /// <paramref name="onToken"/> sees each new token as it is chosen (for streaming). With a <paramref name="policy"/>
    /// the cache is the policy's and keeps what it keeps, compressing at <paramref name="compress"/> (the prompt is the context).
    /// </summary>
    public List<int> Generate(IReadOnlyList<int> prompt, int maxTokens, Sampler sampler, int? eos, Action<int>? onToken = null, KvPolicy? policy = null,
        CompressMode compress = CompressModes.Default)
    {
        using IKvCache cache = policy is null
            ? new FullKvCache(model.Spec, Math.Min(model.Spec.ContextLength, prompt.Count + Math.Max(maxTokens, 0)))
            : policy.CreateCache(compress);
        return Generate(cache, prompt, maxTokens, sampler, eos, onToken);
    }

    /// <summary>As above, into a cache the caller made, which must start empty; the cache compresses once the prompt is in.</summary>
    public List<int> Generate(IKvCache cache, IReadOnlyList<int> prompt, int maxTokens, Sampler sampler, int? eos, Action<int>? onToken = null)
    {
        if (maxTokens < 0) throw new HeadWiseException($"max tokens must be >= 0, got {maxTokens}");
        long limit = Limit(cache);
        CheckContext(cache, prompt.Count);
        var output = new List<int>();
        var logits = Prefill(cache, prompt);
        cache.Compress();
        for (int i = 0; i < maxTokens; i++)
        {
            int next = sampler.Next(logits);
            if (next == eos) break;
            output.Add(next);
            onToken?.Invoke(next);
            if (cache.Length + 1 > limit || i == maxTokens - 1) break;
            Step(cache, [next], ref logits);
        }
        return output;
    }

    /// <summary>The longest sequence under <paramref name="cache"/>: the context, unless the cache keeps attended positions within it (longheads) for a rotary model.</summary>
    private long Limit(IKvCache cache) =>
        model.Spec.Positions == PositionKind.Rope ? Math.Max(cache.MaxLength, model.Spec.ContextLength) : model.Spec.ContextLength;

    private void CheckContext(IKvCache cache, long tokens)
    {
        long limit = Limit(cache);
        if (tokens > limit)
            throw new HeadWiseException(limit > model.Spec.ContextLength
                ? $"the prompt needs {tokens} tokens but this KV cache's limit is {limit}"
                : $"the prompt needs {tokens} tokens but the model's context is {model.Spec.ContextLength}");
    }
}

/// <summary>Turns a stream of token ids into text pieces, holding back incomplete UTF-8 sequences.</summary>
public sealed class TextStreamer(ITokenizer tokenizer, IReadOnlyList<int> prefix)
{
    private readonly List<int> _ids = [.. prefix];
    private string _emitted = tokenizer.Decode(prefix);

    /// <summary>The new text that <paramref name="id"/> adds (empty while a multi-byte character is incomplete).</summary>
    public string Push(int id)
    {
        _ids.Add(id);
        var text = tokenizer.Decode(_ids);
        if (text.EndsWith('\uFFFD') || !text.StartsWith(_emitted, StringComparison.Ordinal)) return "";
        var delta = text[_emitted.Length..];
        _emitted = text;
        return delta;
    }
}
