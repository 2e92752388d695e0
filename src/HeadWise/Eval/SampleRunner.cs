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
    long ScoredBytes, long KvBytes, long KvBytesFull, int PrefillTokens, double PrefillSeconds, int DecodeTokens, double DecodeSeconds,
    string? Output);

/// <summary>
/// Runs one sample through a cache of any kind: chunked prefill (teacher-forced with full logits over the scored
/// part), then greedy decoding for answer tasks, through <see cref="Generation.Generator"/> with whatever cache the policy made.
/// </summary>
/// <param name="hooks">Interventions on every forward call (e.g. heads zero-ablated for the Retrieval Head paper's causal check).</param>
internal sealed class SampleRunner(LoadedModel model, int chunk = 512, Heads.IForwardHooks? hooks = null)
{
    private readonly Generation.Generator _generator = new(model.Transformer) { PrefillChunk = chunk, Hooks = hooks };

    /// <summary>
    /// Scored tokens go through the cache in chunks this small, so a compressing cache evicts between them as it would while
    /// generating; in one big chunk every scored token would still see the whole chunk uncompressed.
    /// </summary>
    public const int ScoredChunk = 32;

    public SampleOutcome Run(EvalSample s, IKvCacheFactory factory)
    {
        int n = s.Tokens.Length;
        var cache = factory.Create(model, Math.Min(model.Spec.ContextLength, n + s.MaxNewTokens));
        try
        {
            var sw = Stopwatch.StartNew();
            // Positions ScoredFrom-1 .. n-2 predict the scored tokens; everything before needs only the cache.
            int plain = s.ScoredFrom < n ? s.ScoredFrom - 1 : n;
            float[] last = plain > 0 ? _generator.Prefill(cache, s.Tokens[..plain]) : [];
            int correct = 0;
            double nll = 0;
            for (int i = plain; i < n; i += ScoredChunk)
            {
                int end = Math.Min(n, i + ScoredChunk);
                (var hits, var loss) = StepScored(cache, s.Tokens[i..end], s.Tokens, i);
                correct += hits;
                nll += loss;
            }
            double prefillSeconds = sw.Elapsed.TotalSeconds;
            long kv = cache.Bytes;
            long kvFull = (long)model.Spec.Layers * model.Spec.KvHeads * n * model.Spec.HeadDim * 2 * sizeof(float);
            int scored = n - s.ScoredFrom;
            long scoredBytes = scored > 0 ? Encoding.UTF8.GetByteCount(model.Tokenizer.Decode(s.Tokens[s.ScoredFrom..])) : 0;

            if (s.Answer is null)
                return new SampleOutcome(s, scored > 0 ? (double)correct / scored : 0, null, null, nll, scored, scoredBytes,
                    kv, kvFull, n, prefillSeconds, 0, 0, null);

            sw.Restart();
            var output = new List<int>();
            int budget = Math.Min(s.MaxNewTokens, model.Spec.ContextLength - n);
            for (int i = 0; i < budget; i++)
            {
                int next = Sampler.ArgMax(last);
                if (next == model.Tokenizer.EosId) break;
                output.Add(next);
                if (i + 1 < budget) last = _generator.Step(cache, [next]);
            }
            double decodeSeconds = sw.Elapsed.TotalSeconds;
            var text = model.Tokenizer.Decode(output);
            double exact = s.Scoring == AnswerScoring.ExactNumber ? Metrics.ExactNumber(text, s.Answer) : Metrics.ExactWords(s.Answer, text);
            double rouge = Metrics.Rouge1Recall(s.Answer, text);
            double score = s.Scoring == AnswerScoring.ExactNumber ? exact : rouge;
            return new SampleOutcome(s, score, exact, rouge, 0, 0, 0, kv, kvFull, n, prefillSeconds, output.Count, decodeSeconds, text);
        }
        finally
        {
            cache.Dispose();
        }
    }

    /// <summary>Feeds tokens[start..] and scores each position's prediction of the next prompt token (when there is one).</summary>
    private (int Hits, double Nll) StepScored(IKvCacheState cache, int[] tokens, int[] all, int start)
    {
        using var scope = torch.NewDisposeScope();
        using var ids = torch.tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        var logits = model.Transformer.Forward(ids, cache, hooks)[0];
        int m = Math.Min(tokens.Length, all.Length - 1 - start);
        if (m <= 0) return (0, 0);
        var pred = logits.narrow(0, 0, m);
        var target = torch.tensor(all[(start + 1)..(start + 1 + m)].Select(t => (long)t).ToArray());
        int hits = (int)pred.argmax(-1).eq(target).sum().item<long>();
        double nll = -pred.log_softmax(-1).gather(1, target.unsqueeze(1)).to_type(ScalarType.Float64).sum().item<double>();
        return (hits, nll);
    }
}
