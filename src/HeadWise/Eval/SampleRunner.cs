using System.Diagnostics;
using System.Text;
using HeadWise.Generation;
using HeadWise.KvCache;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Eval;

/// <summary>What one sample scored and cost.</summary>
internal sealed record SampleOutcome(EvalSample Sample, double Score, double? Exact, double? Rouge, double Nll, int ScoredTokens,
    long ScoredBytes, long KvBytes, long KvPeakBytes, long KvBytesFull, int PrefillTokens, double PrefillSeconds, int DecodeTokens,
    double DecodeSeconds, string? Output)
{
    /// <summary>Keys a selective cache's sparse attention attended over this sample, and keys those queries could see (<see cref="IAttendedShare"/>; 0 otherwise).</summary>
    public long AttendedKeys { get; init; }
    public long AvailableKeys { get; init; }
}

/// <summary>
/// Runs one sample through a policy's cache under the compression protocol (<see cref="CompressMode"/>): the prompt up
/// to the compression point in prefill chunks, <see cref="IKvCache.Compress"/>, the rest (teacher-forced with full
/// logits over the scored part), then greedy decoding for answer tasks.
/// </summary>
/// <param name="hooks">Interventions (e.g. heads masked for the Retrieval Head paper's causal check), on the forward calls <paramref name="phase"/> names.</param>
internal sealed class SampleRunner(LoadedModel model, int chunk = 512, Heads.IForwardHooks? hooks = null, HookPhase phase = HookPhase.Everywhere)
{
    private readonly Generation.Generator _plain = new(model.Transformer) { PrefillChunk = chunk };
    private readonly Generation.Generator _hooked = new(model.Transformer) { PrefillChunk = chunk, Hooks = hooks };

    /// <summary>
    /// Scored tokens after a compression point (or all of them when chunked) go through the cache in chunks this small,
    /// so a cache that evicts while decoding evicts between them as it would while generating.
    /// </summary>
    public const int ScoredChunk = 32;

    public SampleOutcome Run(EvalSample s, IKvCacheFactory factory)
    {
        int n = s.Tokens.Length;
        // Positions ScoredFrom-1 .. n-2 predict the scored tokens.
        int scoreFrom = s.ScoredFrom < n ? s.ScoredFrom - 1 : n;
        int compressAt = factory.Compress switch
        {
            CompressMode.Context => Math.Clamp(s.ContextEnd ?? n, 1, n),
            CompressMode.Question => n,
            _ => n,   // chunked: the cache compresses all along; Compress() does nothing
        };
        if (phase == HookPhase.Decode && s.Answer is null)
            throw new HeadWiseException("hooks on decoding only need a task that generates an answer (passkey, niah, multikey, ...)");
        int hookFrom = phase == HookPhase.Decode ? n - 1 : 0; // positions from here on run with the hooks
        long limit = factory.LengthLimit(model.Spec);
        var cache = factory.Create(model, (int)Math.Min(limit, n + s.MaxNewTokens));
        try
        {
            var sw = Stopwatch.StartNew();
            var score = new Scored();
            // Before the compression point nothing is evicted, so scored positions there need no small chunks.
            float[] last = Feed(cache, s.Tokens, 0, compressAt, scoreFrom, factory.Compress == CompressMode.Chunked, score, hookFrom);
            cache.Compress();
            if (compressAt < n) last = Feed(cache, s.Tokens, compressAt, n, scoreFrom, true, score, hookFrom);
            double prefillSeconds = sw.Elapsed.TotalSeconds;
            long kv = cache.Bytes;
            long kvFull = (long)model.Spec.Layers * model.Spec.KvHeads * n * model.Spec.HeadDim * 2 * sizeof(float);
            int scored = n - s.ScoredFrom;
            long scoredBytes = scored > 0 ? Encoding.UTF8.GetByteCount(model.Tokenizer.Decode(s.Tokens[s.ScoredFrom..])) : 0;

            if (s.Answer is null)
                return Share(new SampleOutcome(s, scored > 0 ? (double)score.Hits / scored : 0, null, null, score.Nll, scored, scoredBytes,
                    kv, cache.PeakBytes, kvFull, n, prefillSeconds, 0, 0, null), cache);

            sw.Restart();
            var output = new List<int>();
            int budget = (int)Math.Min(s.MaxNewTokens, limit - n);
            for (int i = 0; i < budget; i++)
            {
                int next = Sampler.ArgMax(last);
                if (next == model.Tokenizer.EosId) break;
                output.Add(next);
                if (i + 1 < budget) last = _hooked.Step(cache, [next]);
            }
            double decodeSeconds = sw.Elapsed.TotalSeconds;
            var text = model.Tokenizer.Decode(output);
            double exact = s.Scoring == AnswerScoring.ExactNumber ? Metrics.ExactNumber(text, s.Answer) : Metrics.ExactWords(s.Answer, text);
            double rouge = Metrics.Rouge1Recall(s.Answer, text);
            double result = s.Scoring == AnswerScoring.ExactNumber ? exact : rouge;
            return Share(new SampleOutcome(s, result, exact, rouge, 0, 0, 0, kv, cache.PeakBytes, kvFull, n, prefillSeconds, output.Count, decodeSeconds, text), cache);
        }
        finally
        {
            cache.Dispose();
        }
    }

    private sealed class Scored { public int Hits; public double Nll; }

    private static SampleOutcome Share(SampleOutcome o, IKvCache cache) =>
        cache is IAttendedShare a ? o with { AttendedKeys = a.AttendedKeys, AvailableKeys = a.AvailableKeys } : o;

    /// <summary>
    /// Feeds tokens[from..to) in chunks (prefill-sized, or <see cref="ScoredChunk"/> over the scored part when
    /// <paramref name="smallScoredChunks"/>), scoring each position at or after <paramref name="scoreFrom"/>; returns the
    /// last position's logits. Chunks from <paramref name="hookFrom"/> on run with the hooks.
    /// </summary>
    private float[] Feed(IKvCache cache, int[] tokens, int from, int to, int scoreFrom, bool smallScoredChunks, Scored score, int hookFrom)
    {
        float[] last = [];
        for (int i = from; i < to;)
        {
            bool scoring = i >= scoreFrom, hooked = i >= hookFrom;
            int size = scoring && smallScoredChunks ? ScoredChunk : _plain.PrefillChunk;
            int end = Math.Min(to, scoring ? i + size : Math.Min(i + size, Math.Max(scoreFrom, i + 1)));
            if (!hooked) end = Math.Min(end, hookFrom);
            last = end > scoreFrom ? StepScored(cache, tokens, i, end, scoreFrom, score, hooked ? hooks : null)
                : (hooked ? _hooked : _plain).Step(cache, tokens[i..end]);
            i = end;
        }
        return last;
    }

    /// <summary>Feeds tokens[start..end) and scores each position at or after <paramref name="scoreFrom"/> (its prediction of the next token, when there is one).</summary>
    private float[] StepScored(IKvCache cache, int[] all, int start, int end, int scoreFrom, Scored score, Heads.IForwardHooks? stepHooks)
    {
        using var scope = torch.NewDisposeScope();
        using var ids = torch.tensor(all[start..end].Select(t => (long)t).ToArray(), [1, end - start]);
        var logits = model.Transformer.Forward(ids, cache, stepHooks)[0];
        int first = Math.Max(start, scoreFrom);
        int m = Math.Min(end, all.Length - 1) - first;
        if (m > 0)
        {
            var pred = logits.narrow(0, first - start, m);
            var target = torch.tensor(all[(first + 1)..(first + 1 + m)].Select(t => (long)t).ToArray());
            score.Hits += (int)pred.argmax(-1).eq(target).sum().item<long>();
            score.Nll += -pred.log_softmax(-1).gather(1, target.unsqueeze(1)).to_type(ScalarType.Float64).sum().item<double>();
        }
        return logits[logits.shape[0] - 1].data<float>().ToArray();
    }
}
