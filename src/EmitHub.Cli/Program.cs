// emit-hub: parse the command line, load the configuration, run the server until SIGINT/SIGTERM.
return await EmitHub.Cli.EmitHubCli.RunAsync(args).ConfigureAwait(false);
