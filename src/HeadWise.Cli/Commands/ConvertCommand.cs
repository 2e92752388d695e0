using System.CommandLine;
using HeadWise.Formats.Gguf;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise convert`: a Hugging Face folder (config.json, safetensors, tokenizer.json) to a GGUF file llama.cpp runs.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model("Hugging Face model folder to convert (config.json, *.safetensors, tokenizer.json)");
        var output = new Option<string>("--out", "-o") { Description = "GGUF file to write", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Element type of the matrices: f32, f16 or bf16", DefaultValueFactory = _ => "f32" };
        var command = new Command("convert", "Convert a Hugging Face model folder (llama, mistral, qwen2, qwen3, gpt2) to GGUF") { model, output, dtype };
        command.SetAction(r => CliRun.Guard(() => Run(r.GetValue(model)!, r.GetValue(output)!, r.GetValue(dtype)!)));
        return command;
    }

    private static int Run(string model, string output, string dtype)
    {
        var type = dtype.ToLowerInvariant() switch
        {
            "f32" => GgmlType.F32,
            "f16" => GgmlType.F16,
            "bf16" => GgmlType.BF16,
            _ => throw new HeadWiseException($"--dtype '{dtype}' is not supported (f32, f16, bf16)"),
        };
        if (!Directory.Exists(model)) throw new HeadWiseException($"{model}: not a folder (convert reads a Hugging Face model folder)");
        GgufConverter.Convert(model, output, type);
        Console.Error.WriteLine($"wrote {output} ({new FileInfo(output).Length:N0} bytes)");
        return 0;
    }
}
