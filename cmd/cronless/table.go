package main

import "github.com/cronless/cronless/cmd/cronless/internal/cmdutil"

// outputUsage is the help of every --output flag.
const outputUsage = cmdutil.OutputUsage

// Tables and cells for people (cmdutil), by their names here.
var (
	newTable     = cmdutil.NewTable
	outputFormat = cmdutil.OutputFormat
	tableTime    = cmdutil.TableTime
	csvTime      = cmdutil.CSVTime
	clip         = cmdutil.Clip
	intFlag      = cmdutil.IntFlag
	printResults = cmdutil.PrintResults
)
