using System.Text;

namespace HeadWise.Training;

/// <summary>The README.md written beside a trained model: how it was made and what it measured.</summary>
public static class ModelCard
{
    public static string Build(TrainConfig c, TrainingMetrics m, Models.ModelSpec spec, string command)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# {c.Name}");
        sb.AppendLine();
        sb.AppendLine($"A {m.Parameters / 1e6:0.00} M-parameter Llama-architecture model trained from scratch by `headwise train` on CPU.");
        sb.AppendLine();
        sb.AppendLine("## Reproduce");
        sb.AppendLine("```bash");
        sb.AppendLine(command);
        sb.AppendLine("```");
        sb.AppendLine($"Seed {c.Seed}. The run resumes from `checkpoint/` if stopped; a finished run only re-exports.");
        if (c.InitFrom is not null && Checkpoint.Exists(c.InitFrom))
        {
            var prior = Checkpoint.ReadState(c.InitFrom);
            var priorConfig = System.Text.Json.JsonSerializer.Deserialize<TrainConfig>(prior.ConfigJson, TrainConfig.Json)!;
            sb.AppendLine();
            sb.AppendLine($"This is a second training stage. Its initial weights are those of `{priorConfig.Name}` at step {prior.Step} " +
                          $"({prior.ElapsedSeconds / 60:0.0} min of training; config `configs/{priorConfig.Name}.json`), which must be trained first:");
            sb.AppendLine("```bash");
            sb.AppendLine($"HEADWISE_THREADS=1 ./headwise train --config configs/{priorConfig.Name}.json --out {Path.GetRelativePath(Environment.CurrentDirectory, Path.GetDirectoryName(Path.GetFullPath(c.InitFrom).TrimEnd('/'))!)} --stop-at-step {prior.Step}");
            sb.AppendLine("```");
            sb.AppendLine($"Total training time over both stages: {(prior.ElapsedSeconds + m.WallSeconds) / 60:0.0} min.");
        }
        sb.AppendLine();
        sb.AppendLine("## Model");
        sb.AppendLine($"- {spec.Layers} layers, width {spec.Dim}, {spec.Heads} attention heads of size {spec.HeadDim} with {spec.KvHeads} KV heads " +
                      $"({(spec.KvHeads == spec.Heads ? "multi-head attention, no GQA" : $"grouped-query attention, {spec.Heads / spec.KvHeads} query heads per KV head")}), SwiGLU FFN {spec.FfnDim}, RMSNorm, untied output.");
        if (m.Variant is { Kind: not "softmax" } v) sb.AppendLine($"- Attention variant `{v.Kind}`: {v.Description} (see docs/variants.md).");
        sb.AppendLine($"- RoPE theta {spec.RopeTheta}, context {spec.ContextLength} tokens; trained with the interleaved RoPE layout (GGUF llama), exported to Hugging Face with Q/K permuted to the halves layout.");
        sb.AppendLine($"- Tokenizer: byte-level BPE of {spec.VocabSize} tokens (ids 0 `<s>`, 1 `</s>`, 2-257 bytes, then merges) trained on the same text; GPT-2 pre-tokenizer; BOS is added. {m.BytesPerToken:0.00} bytes of held-out text per token.");
        sb.AppendLine();
        Data(sb, c);
        sb.AppendLine();
        sb.AppendLine("## Training");
        sb.AppendLine($"- Steps: {m.Steps} of {c.Steps}{(m.Steps < c.Steps ? $" (stopped by max_minutes = {c.MaxMinutes})" : "")}.");
        sb.AppendLine($"- Time: {m.Time.WallMinutes:0.0} min of wall time and {m.Time.CpuMinutes:0.0} min of process CPU time in the training loop, " +
                      $"{m.Time.Threads} torch thread(s){(m.Time.MeanLoad is { } load ? $"; the machine's 1-minute load average was {load:0.0} on average (other work shared it)" : "")}.");
        sb.AppendLine($"- Final training loss (mean of the last 20 steps, answers weighted): {(m.FinalLoss is { } f ? f.ToString("0.000") : "n/a (no log)")}.");
        sb.AppendLine($"- Held-out text: {m.HeldOutLoss:0.000} nats/token, perplexity {m.HeldOutPerplexity:0.00} per token ({m.HeldOutTokens:N0} tokens never trained on, in windows of {Math.Min(c.Context, 2048)}; {m.HeldOutLoss / Math.Log(2) / m.BytesPerToken:0.000} bits per byte).");
        sb.AppendLine();
        Harness(sb, m);
        Probes(sb, m);
        Sinks(sb, m);
        Census(sb, m);
        Gates(sb, m, spec);
        Variant(sb, m);
        sb.AppendLine("## Files");
        if (Training.GgufExporter.Refusal(spec) is { } refused) sb.AppendLine($"- No `model.gguf`: {refused}");
        else sb.AppendLine("- `model.gguf`: GGUF llama, F32, with the vocabulary as a gpt2 tokenizer (llama.cpp and HeadWise load it).");
        sb.AppendLine("- `config.json`, `model.safetensors`, `tokenizer.json`: the Hugging Face layout (LlamaForCausalLM).");
        sb.AppendLine("- `loss.png`, `train-log.jsonl` (one line per step: loss, wall and CPU seconds, load average), `sinks.jsonl` (sink ratio during training), " +
                      "`model-card.json` (these numbers), `bpe.json` (vocabulary, for resuming), `samples.txt` (one decoded sample per task, answers in [[ ]]).");
        return sb.ToString();
    }

    private static void Data(StringBuilder sb, TrainConfig c)
    {
        sb.AppendLine("## Data");
        sb.AppendLine($"- Natural text: {string.Join(", ", c.Data.Select(Path.GetFileName))} ({c.HeldOutFraction:P0} of each file held out). Every sample starts with BOS.");
        sb.AppendLine($"- Mix per sample: text {c.Mix.Text}, passkey {c.Mix.Passkey}, needle-in-a-haystack {c.Mix.Niah}, key-value retrieval {c.Mix.KvRetrieval}, copy {c.Mix.Copy}; answer tokens weigh {c.AnswerWeight} in the loss{(c.NiahAnswerWeight is { } w ? $", needle answers {w}" : "")}.");
        sb.AppendLine($"- Needle styles: magic number {c.NiahStyles.MagicNumber}, keyed numbers among distractor keys {c.NiahStyles.Keyed}, facts to copy {c.NiahStyles.Fact}; keyed and fact samples hide 1 to {c.NiahFacts} needles. " +
                      "Prompts are worded by `PromptWording` in all its phrasings (the evaluation harness asks in the first of each); places, keys and phrases are never the harness's.");
        sb.AppendLine($"- Copy samples: {c.CopyRepeatShare:P0} repeat a short random segment until the sequence is full, the rest copy a segment once after \"Repeat:\" or recall a span from a short cue.");
        sb.AppendLine("- Curriculum: " + string.Join("; ", c.Curriculum.Select(Phase)) + ".");
        sb.AppendLine($"- AdamW (betas {c.Beta1}/{c.Beta2}, weight decay {c.WeightDecay} on matrices), peak LR {c.LearningRate}, {c.WarmupSteps} warm-up steps, cosine to {c.MinLearningRate}, gradient clip {c.GradClip}, {c.Precision.ToString().ToLowerInvariant()} compute with fp32 master weights.");
    }

    private static void Harness(StringBuilder sb, TrainingMetrics m)
    {
        if (m.Harness.Count == 0) return;
        sb.AppendLine("## Evaluation harness");
        sb.AppendLine($"`headwise bench` with the full cache (seed 1), {m.Harness[0].Samples} prompts per cell; passkey and multikey score the exact number, niah ROUGE-1 recall of the phrase. " +
                      "Lengths are whole prompts in tokens; depth is where the asked needle sits in the haystack.");
        sb.AppendLine();
        var depths = m.Harness.Select(h => h.Depth).Distinct().Order().ToList();
        foreach (var task in m.Harness.Select(h => h.Task).Distinct())
        {
            var cells = m.Harness.Where(h => h.Task == task).ToList();
            sb.AppendLine($"**{task}**: {cells.Average(h => h.Accuracy):P1} over all cells");
            sb.AppendLine();
            sb.AppendLine("| length | " + string.Join(" | ", depths.Select(d => $"depth {d:0.0}")) + " | all |");
            sb.AppendLine("|---:|" + string.Concat(depths.Select(_ => "---:|")) + "---:|");
            foreach (var length in cells.Select(h => h.Length).Distinct().Order())
            {
                var row = cells.Where(h => h.Length == length).ToList();
                sb.AppendLine($"| {length} | " + string.Join(" | ", depths.Select(d => row.FirstOrDefault(h => h.Depth == d) is { } h ? $"{h.Accuracy:P0}" : "-")) +
                              $" | {row.Average(h => h.Accuracy):P1} |");
            }
            sb.AppendLine();
        }
    }

    private static void Probes(StringBuilder sb, TrainingMetrics m)
    {
        sb.AppendLine("## Training formats");
        sb.AppendLine("Full-cache greedy accuracy on the training tasks built from held-out text (`TaskProbe`: a sample counts when every answer token is the arg-max):");
        sb.AppendLine();
        sb.AppendLine("| task | tokens | samples | samples right | answer tokens right |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var p in m.Probes)
            sb.AppendLine($"| {p.Task} | {p.Length} | {p.Samples} | {p.SampleAccuracy:P0} | {p.TokenAccuracy:P1} |");
        sb.AppendLine();
    }

    private static void Sinks(StringBuilder sb, TrainingMetrics m)
    {
        var s = m.Sinks;
        sb.AppendLine("## Attention sinks");
        sb.AppendLine($"The metric of Gu et al., \"When Attention Sink Emerges in Language Models\" (ICLR 2025): a head's score is its attention on the first token (BOS) averaged over all queries, " +
                      $"on {s.Windows} windows of {s.Window} held-out tokens; a head is a sink where the score exceeds ε = {s.Epsilon}. " +
                      $"Sink ratio {s.Ratio:P0} of (window, head) pairs; {s.RatioFromLayer1:P0} in layers 1 and up, where {s.SinkHeadsFromLayer1} of {s.HeadsFromLayer1} heads score {s.Epsilon} or more on average.");
        sb.AppendLine();
        sb.AppendLine("| layer | " + string.Join(" | ", Enumerable.Range(0, s.Score[0].Length).Select(h => $"head {h}")) + " |");
        sb.AppendLine("|---:|" + string.Concat(s.Score[0].Select(_ => "---:|")));
        for (int l = 0; l < s.Score.Length; l++) sb.AppendLine($"| {l} | " + string.Join(" | ", s.Score[l].Select(v => v.ToString("0.00"))) + " |");
        sb.AppendLine();
        if (m.SinkCurve.Count > 1)
        {
            sb.AppendLine("During training (`sinks.jsonl`): " + string.Join(", ", Thin(m.SinkCurve, 12).Select(x => $"step {x.Step}: {x.Ratio:P0} ({x.RatioFromLayer1:P0} in layers 1+)")) + ".");
            sb.AppendLine();
        }
    }

    private static IEnumerable<SinkMeasure> Thin(IReadOnlyList<SinkMeasure> xs, int count) =>
        xs.Count <= count ? xs : Enumerable.Range(0, count).Select(i => xs[(int)((long)i * (xs.Count - 1) / (count - 1))]);

    private static void Census(StringBuilder sb, TrainingMetrics m)
    {
        var c = m.Census;
        sb.AppendLine("## Head census");
        sb.AppendLine($"On 12 passkey and needle prompts of {m.HeadCheckLength} tokens from held-out text (`HeadBehaviourCheck`): {c.Retrieval} retrieval heads " +
                      $"(Wu et al. 2024: the most-attended key is the token being produced, more than 32 tokens back, for at least {HeadBehaviour.RetrievalThreshold:0.0} of answer tokens), " +
                      $"{c.Sink} sink heads (at least {HeadBehaviour.SinkThreshold} of the attention on BOS), {c.Local} local heads (at least half on the last 16 tokens) " +
                      $"and {c.Previous} previous-token heads (at least half on the token before), of {c.Heads}.");
        sb.AppendLine();
        sb.AppendLine("| head | retrieval | sink | local | previous | kind |");
        sb.AppendLine("|---|---:|---:|---:|---:|---|");
        foreach (var h in m.Heads)
        {
            var kinds = new[] { (h.IsRetrieval, "retrieval"), (h.IsSink, "sink"), (h.IsLocal, "local"), (h.IsPrevious, "previous") }.Where(k => k.Item1).Select(k => k.Item2);
            sb.AppendLine($"| {h.Layer}.{h.Head} | {h.Retrieval:0.00} | {h.Sink:0.00} | {h.Local:0.00} | {h.Previous:0.00} | {string.Join(", ", kinds)} |");
        }
        sb.AppendLine();
    }

    private static void Gates(StringBuilder sb, TrainingMetrics m, Models.ModelSpec spec)
    {
        if (m.DuoGates is not { } gates) return;
        sb.AppendLine("## DuoAttention gates");
        sb.AppendLine($"Learned gate per KV head (`DuoGateScore`: full attention mixed with sinks + recent tokens, gates optimised to keep the final hidden states on DuoAttention's multi-passkey data, a 100-step run of its 2,000; 1 = needs its full cache). " +
                      $"Each KV head serves {spec.Heads / spec.KvHeads} query heads.");
        sb.AppendLine();
        sb.AppendLine("| layer | " + string.Join(" | ", Enumerable.Range(0, gates[0].Length).Select(h => $"KV head {h}")) + " |");
        sb.AppendLine("|---:|" + string.Concat(gates[0].Select(_ => "---:|")));
        for (int l = 0; l < gates.Length; l++) sb.AppendLine($"| {l} | " + string.Join(" | ", gates[l].Select(v => v.ToString("0.00"))) + " |");
        sb.AppendLine();
    }

    private static void Variant(StringBuilder sb, TrainingMetrics m)
    {
        if (m.Variant is not { } v) return;
        sb.AppendLine("## Attention");
        sb.AppendLine($"`{v.Kind}`: {v.Description}. Attention FLOPs of one forward pass over {v.FlopsLength:N0} tokens (projections, scores and values over the causal pairs, all layers): {v.AttentionFlops:0.000e0}.");
        sb.AppendLine();
        if (v.HeadShares is not { } shares) return;
        sb.AppendLine($"Routing statistics: share of {v.RoutedTokens:N0} held-out tokens (per layer) that activated each head (shared heads: every token).");
        sb.AppendLine();
        sb.AppendLine("| layer | " + string.Join(" | ", Enumerable.Range(0, shares[0].Length).Select(h => $"head {h}")) + " | mean |");
        sb.AppendLine("|---:|" + string.Concat(shares[0].Select(_ => "---:|")) + "---:|");
        for (int l = 0; l < shares.Length; l++) sb.AppendLine($"| {l} | " + string.Join(" | ", shares[l].Select(x => x.ToString("0.00"))) + $" | {shares[l].Average():0.00} |");
        sb.AppendLine();
    }

    private static string Phase(CurriculumPhase p)
    {
        var text = p.MinSeqLen is { } min && min != p.SeqLen
            ? $"from step {p.FromStep}: lengths {min}-{p.SeqLen} drawn per step, about {p.Batch * p.SeqLen:N0} tokens a step"
            : $"from step {p.FromStep}: {p.Batch} x {p.SeqLen} tokens";
        if (p.Mix is { } m) text += $", mix text {m.Text}, passkey {m.Passkey}, niah {m.Niah}, key-value {m.KvRetrieval}, copy {m.Copy}";
        if (p.CopyRepeatShare is { } r) text += $", {r:P0} of copy samples repeated segments";
        return text;
    }
}
