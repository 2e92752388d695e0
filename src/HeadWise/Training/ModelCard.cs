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
                      $"({(spec.KvHeads == spec.Heads ? "multi-head attention, no GQA" : "grouped-query")}), SwiGLU FFN {spec.FfnDim}, RMSNorm, untied output.");
        sb.AppendLine($"- RoPE theta {spec.RopeTheta}, context {spec.ContextLength} tokens; trained with the interleaved RoPE layout (GGUF llama), exported to Hugging Face with Q/K permuted to the halves layout.");
        sb.AppendLine($"- Tokenizer: byte-level BPE of {spec.VocabSize} tokens (ids 0 `<s>`, 1 `</s>`, 2-257 bytes, then merges) trained on the same text; GPT-2 pre-tokenizer; BOS is added. {m.BytesPerToken:0.00} bytes of held-out text per token.");
        sb.AppendLine();
        sb.AppendLine("## Data");
        sb.AppendLine($"- Natural text: {string.Join(", ", c.Data.Select(Path.GetFileName))} ({c.HeldOutFraction:P0} of each file held out).");
        sb.AppendLine($"- Mix per sample: text {c.Mix.Text}, passkey {c.Mix.Passkey}, needle-in-a-haystack {c.Mix.Niah}, key-value retrieval {c.Mix.KvRetrieval}, copy {c.Mix.Copy}; answer tokens weigh {c.AnswerWeight} in the loss.");
        sb.AppendLine($"- Copy samples: {c.CopyRepeatShare:P0} repeat a short random segment until the sequence is full, the rest copy a segment once after \"Repeat:\".");
        if (c.NiahPhraseShare is { } phrases)
            sb.AppendLine($"- Needle-in-a-haystack samples: {phrases:P0} hide a city's best thing to do, a phrase to copy (a run of training text with up to three invented words); the rest are split between the single magic number and RULER needles with distractors.");
        if (c.NiahFacts > 1)
            sb.AppendLine($"- Phrase-fact samples hide 1 to {c.NiahFacts} cities' facts and ask for each at the end.");
        if (c.NiahAnswerWeight is { } niahWeight)
            sb.AppendLine($"- Needle-in-a-haystack answers weigh {niahWeight} in the loss.");
        sb.AppendLine("- Curriculum: " + string.Join("; ", c.Curriculum.Select(Phase)) + ".");
        sb.AppendLine($"- AdamW (betas {c.Beta1}/{c.Beta2}, weight decay {c.WeightDecay} on matrices), peak LR {c.LearningRate}, {c.WarmupSteps} warm-up steps, cosine to {c.MinLearningRate}, gradient clip {c.GradClip}, {c.Precision} compute with fp32 master weights.");
        sb.AppendLine();
        sb.AppendLine("## Results");
        sb.AppendLine($"- Steps: {m.Steps} of {c.Steps}{(m.Steps < c.Steps ? $" (stopped by max_minutes = {c.MaxMinutes})" : "")}; training wall time {m.WallSeconds / 60:0.0} min.");
        sb.AppendLine($"- Final training loss (mean of the last 20 steps, answers weighted): {(m.FinalLoss is { } f ? f.ToString("0.000") : "n/a (no log)")}.");
        sb.AppendLine($"- Held-out text: {m.HeldOutLoss:0.000} nats/token, perplexity {m.HeldOutPerplexity:0.00} per token ({m.HeldOutTokens:N0} tokens in windows of {Math.Min(c.Context, 2048)}; {m.HeldOutLoss / Math.Log(2) / m.BytesPerToken:0.000} bits per byte).");
        sb.AppendLine();
        sb.AppendLine("Full-cache greedy accuracy on tasks built from held-out text (`TaskProbe`: a sample counts when every answer token is the arg-max):");
        sb.AppendLine();
        sb.AppendLine("| task | tokens | samples | samples right | answer tokens right |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var p in m.Probes)
            sb.AppendLine($"| {p.Task} | {p.Length} | {p.Samples} | {p.SampleAccuracy:P0} | {p.TokenAccuracy:P1} |");
        sb.AppendLine();
        sb.AppendLine("Task formats (LongContextTasks; each in several phrasings, half the needles in the first third): passkey as in Mohtashami and Jaggi (2023) " +
                      "with a 3-7 digit key; niah here is the single needle \"The special magic number is: N.\" in held-out text, asked at the end " +
                      "(training also hides RULER needles with distractors); niah-phrase hides a city's best thing to do, a phrase to copy (training " +
                      "text with up to three invented words); kvretrieval asks for " +
                      "values of pseudo-word keys in a list; copy repeats a text segment after \"Repeat:\" or recalls a span from a short cue " +
                      "(accuracy per token).");
        sb.AppendLine();
        sb.AppendLine($"What the heads do on 10 passkey/niah prompts of {m.HeadCheckLength} tokens (`HeadBehaviourCheck`; retrieval as in Wu et al. 2024: the most-attended key is the answer token, more than 32 tokens back; sink: attention on BOS; local: attention on the last 16 tokens; previous: attention on the token just before):");
        sb.AppendLine();
        sb.AppendLine("| head | retrieval | sink | local | previous |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var h in m.Heads) sb.AppendLine($"| {h.Layer}.{h.Head} | {h.Retrieval:0.00} | {h.Sink:0.00} | {h.Local:0.00} | {h.Previous:0.00} |");
        sb.AppendLine();
        sb.AppendLine("## Files");
        sb.AppendLine("- `model.gguf`: GGUF llama, F32, with the vocabulary as a gpt2 tokenizer (llama.cpp and HeadWise load it).");
        sb.AppendLine("- `config.json`, `model.safetensors`, `tokenizer.json`: the Hugging Face layout (LlamaForCausalLM).");
        sb.AppendLine("- `loss.png`, `train-log.jsonl` (one line per step), `model-card.json` (these numbers), `bpe.json` (vocabulary, for resuming), `samples.txt` (one decoded sample per task).");
        return sb.ToString();
    }

    private static string Phase(CurriculumPhase p)
    {
        var text = $"from step {p.FromStep}: {p.Batch} x {p.SeqLen} tokens";
        if (p.Mix is { } m) text += $", mix text {m.Text}, passkey {m.Passkey}, niah {m.Niah}, key-value {m.KvRetrieval}, copy {m.Copy}";
        if (p.CopyRepeatShare is { } r) text += $", {r:P0} of copy samples repeated segments";
        return text;
    }
}
